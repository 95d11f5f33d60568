//! The media archiver: for each media message on the queue, stream the recording or composition from
//! Twilio into the team's own S3 bucket, and record where it went in the room's timeline.
//!
//! Order per message: read it (the library's versioned type); skip if already archived (an object of the
//! expected size is there) or stored externally by Twilio; GET `media_url` with the API key; follow
//! Twilio's redirect *without* the key; stream the body into an S3 multipart upload part by part; check the
//! byte count; record `media-archived` (or `media-archive-failed` for media Twilio deleted).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use time::OffsetDateTime;

use crate::archive::{self, ArchiveError, ArchiveRecord, Archived};
use crate::message::MediaMessage;

/// A Twilio API key (`SK...` and its secret). Never printed.
#[derive(Clone)]
pub struct ApiKey {
    sid: String,
    secret: String,
}

impl ApiKey {
    /// From its two halves.
    pub fn new(sid: impl Into<String>, secret: impl Into<String>) -> Self {
        ApiKey {
            sid: sid.into(),
            secret: secret.into(),
        }
    }

    /// From `SID:SECRET` (the SSM parameter's form).
    pub fn parse(value: &str) -> Option<Self> {
        let (sid, secret) = value.trim().split_once(':')?;
        (!sid.is_empty() && !secret.is_empty()).then(|| ApiKey::new(sid, secret))
    }

    fn basic_auth(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.sid, self.secret))
        )
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}, secret redacted)", self.sid)
    }
}

/// Where and how to archive.
#[derive(Debug, Clone)]
pub struct ArchiverSettings {
    /// `ARCHIVE_BUCKET`.
    pub bucket: String,
    /// `ARCHIVE_PREFIX` (default `twilio-video/`).
    pub prefix: String,
    /// `EVENTS_TABLE`: where outcomes are recorded.
    pub table: String,
    /// `TWILIO_MEDIA_BASE_URL` (default `https://video.twilio.com`): replaces `media_url`'s scheme and host.
    pub media_base_url: String,
    /// Bytes per multipart part (S3's minimum is 5 MiB; memory use is about twice this).
    pub part_size: usize,
    /// How long to wait for response headers, and between two chunks of a body, before giving up.
    pub read_timeout: Duration,
}

impl ArchiverSettings {
    /// Defaults around the required names.
    pub fn new(bucket: impl Into<String>, table: impl Into<String>) -> Self {
        ArchiverSettings {
            bucket: bucket.into(),
            prefix: archive::DEFAULT_PREFIX.to_owned(),
            table: table.into(),
            media_base_url: "https://video.twilio.com".to_owned(),
            part_size: 8 * 1024 * 1024,
            read_timeout: Duration::from_secs(30),
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The archiver: clients built once at cold start.
pub struct Archiver {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    http: HttpClient,
    key: ApiKey,
    settings: ArchiverSettings,
}

fn transient(what: &str, err: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Transient(format!("{what}: {err}"))
}

impl Archiver {
    /// An archiver writing with `s3` and `dynamodb`, fetching with `key`.
    pub fn new(
        s3: aws_sdk_s3::Client,
        dynamodb: aws_sdk_dynamodb::Client,
        key: ApiKey,
        settings: ArchiverSettings,
    ) -> Result<Self, std::io::Error> {
        let tls = crate::tls::client_config().map_err(std::io::Error::other)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(Archiver {
            s3,
            dynamodb,
            http,
            key,
            settings,
        })
    }

    /// Handles one SQS batch: every message is tried; those worth retrying are reported as failures.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let started = Instant::now();
            let result = self
                .process(record.body.as_deref().unwrap_or_default())
                .await;
            let ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok((message, outcome)) => tracing::info!(
                    message_id = %id, event = %message.event, media_sid = archive::media_sid(message).unwrap_or("-"),
                    outcome = outcome_word(outcome), ms, "media archived"
                ),
                Err(err @ ArchiveError::MediaGone(_)) => {
                    tracing::warn!(message_id = %id, error = %err, ms, "media gone at Twilio: recorded and acknowledged")
                }
                Err(err) => {
                    tracing::error!(message_id = %id, error = %err, ms, "media not archived; the message will be retried")
                }
            }
            if let Err(err) = result {
                if err.retry() {
                    failures.push(BatchItemFailure {
                        item_identifier: id,
                    });
                }
            }
        }
        SqsBatchResponse {
            batch_item_failures: failures,
        }
    }

    async fn process(&self, body: &str) -> Result<(MediaMessage, Archived), ArchiveError> {
        let message = archive::read_message(body)?;
        let at = crate::timestamp::format(OffsetDateTime::now_utc());
        match self.archive(&message).await {
            Ok(outcome) => {
                self.record(ArchiveRecord::archived(&message, &outcome, &at))
                    .await?;
                Ok((message, outcome))
            }
            Err(gone @ ArchiveError::MediaGone(_)) => {
                self.record(ArchiveRecord::failed(&message, &gone.to_string(), &at))
                    .await?;
                Err(gone)
            }
            Err(err) => Err(err),
        }
    }

    async fn archive(&self, message: &MediaMessage) -> Result<Archived, ArchiveError> {
        if let Some(location) = message
            .media_external_location
            .as_ref()
            .filter(|l| !l.is_empty())
        {
            return Ok(Archived::External {
                location: location.clone(),
            });
        }
        if let Some(existing) = self.existing(message).await? {
            return Ok(existing);
        }
        let media_url = message.media_url.as_deref().ok_or_else(|| {
            ArchiveError::InvalidMessage("no media_url and no media_external_location".into())
        })?;
        let url = archive::rebase(media_url, &self.settings.media_base_url)?;

        // Twilio: with the key. It answers a redirect to a short-lived URL of the file.
        let response = self.get(&url, true).await?;
        let response = match response.status() {
            status if status.is_redirection() => {
                let location = response
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        ArchiveError::Transient(format!("{status} without a Location from {url}"))
                    })?
                    .to_owned();
                // The file's host is not Twilio's: never send the key there.
                let file = self.get(&location, false).await?;
                if !file.status().is_success() {
                    return Err(ArchiveError::Transient(format!(
                        "{} from the media file URL",
                        file.status()
                    )));
                }
                file
            }
            status if status.is_success() => response,
            StatusCode::NOT_FOUND => return Err(ArchiveError::MediaGone(format!("404 for {url}"))),
            status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(ArchiveError::Unauthorized {
                    status: status.as_u16(),
                    url,
                })
            }
            status => {
                return Err(ArchiveError::Transient(format!(
                    "Twilio answered {status} for {url}"
                )))
            }
        };
        self.stream_to_s3(message, response).await
    }

    /// An object already at the destination with the message's size.
    async fn existing(&self, message: &MediaMessage) -> Result<Option<Archived>, ArchiveError> {
        let Some(size) = message.size else {
            return Ok(None);
        };
        let stem = archive::object_key(&self.settings.prefix, message, "")?;
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.settings.bucket)
            .prefix(&stem)
            .send()
            .await
            .map_err(|err| {
                transient(
                    "listing the archive",
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        Ok(listed
            .contents()
            .iter()
            .find(|object| object.size() == i64::try_from(size).ok())
            .and_then(|object| object.key())
            .map(|key| Archived::AlreadyThere {
                s3_uri: format!("s3://{}/{key}", self.settings.bucket),
                size,
            }))
    }

    async fn get(&self, url: &str, with_key: bool) -> Result<Response<Incoming>, ArchiveError> {
        let mut request =
            Request::get(url).header(hyper::header::USER_AGENT, "twilio-video-callbacks-archiver");
        if with_key {
            request = request.header(hyper::header::AUTHORIZATION, self.key.basic_auth());
        }
        let request = request
            .body(Empty::new())
            .map_err(|err| ArchiveError::InvalidMessage(format!("URL {url:?}: {err}")))?;
        match tokio::time::timeout(self.settings.read_timeout, self.http.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(transient("connection failed", err)),
            Err(_) => Err(ArchiveError::Transient(format!(
                "no response within {:?}",
                self.settings.read_timeout
            ))),
        }
    }

    async fn stream_to_s3(
        &self,
        message: &MediaMessage,
        response: Response<Incoming>,
    ) -> Result<Archived, ArchiveError> {
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
        };
        let content_type = header(hyper::header::CONTENT_TYPE)
            .unwrap_or("application/octet-stream")
            .to_owned();
        let content_length =
            header(hyper::header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        let ext = archive::extension(message, Some(&content_type));
        let key = archive::object_key(&self.settings.prefix, message, &ext)?;

        let upload = self
            .s3
            .create_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(&key)
            .content_type(&content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .set_metadata(Some(metadata(message)))
            .send()
            .await
            .map_err(|err| {
                transient(
                    "starting the upload",
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| ArchiveError::Transient("S3 gave no upload id".into()))?
            .to_owned();

        let result = self
            .upload_parts(&key, &upload_id, response.into_body())
            .await
            .and_then(|(parts, count)| {
                for (what, expected) in [
                    ("Content-Length", content_length),
                    ("the message's size", message.size),
                ] {
                    if let Some(expected) = expected.filter(|expected| *expected != count) {
                        return Err(ArchiveError::Transient(format!(
                            "received {count} bytes but {what} says {expected}"
                        )));
                    }
                }
                Ok((parts, count))
            });
        let (parts, count) = match result {
            Ok(done) => done,
            Err(err) => {
                self.abort(&key, &upload_id).await;
                return Err(err);
            }
        };
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(&key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        if let Err(err) = completed {
            self.abort(&key, &upload_id).await;
            return Err(transient(
                "completing the upload",
                aws_sdk_s3::error::DisplayErrorContext(err),
            ));
        }
        Ok(Archived::Copied {
            s3_uri: format!("s3://{}/{key}", self.settings.bucket),
            size: count,
            content_type,
        })
    }

    /// Reads the body chunk by chunk and uploads a part whenever `part_size` bytes have arrived: at most
    /// one part is in memory while the next fills.
    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        mut body: Incoming,
    ) -> Result<(Vec<CompletedPart>, u64), ArchiveError> {
        let part_size = self.settings.part_size;
        let mut parts = Vec::new();
        let mut buffer: Vec<u8> = Vec::with_capacity(part_size);
        let mut count: u64 = 0;
        loop {
            let frame = match tokio::time::timeout(self.settings.read_timeout, body.frame()).await {
                Err(_) => {
                    return Err(ArchiveError::Transient(format!(
                        "the media stalled for {:?} after {count} bytes",
                        self.settings.read_timeout
                    )))
                }
                Ok(None) => break,
                Ok(Some(Err(err))) => {
                    return Err(transient(
                        &format!("the media broke off after {count} bytes"),
                        err,
                    ))
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            count += data.len() as u64;
            buffer.extend_from_slice(&data);
            if buffer.len() >= part_size {
                let full = std::mem::replace(&mut buffer, Vec::with_capacity(part_size));
                parts.push(
                    self.upload_part(key, upload_id, parts.len() as i32 + 1, full)
                        .await?,
                );
            }
        }
        if !buffer.is_empty() || parts.is_empty() {
            parts.push(
                self.upload_part(key, upload_id, parts.len() as i32 + 1, buffer)
                    .await?,
            );
        }
        Ok((parts, count))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        data: Vec<u8>,
    ) -> Result<CompletedPart, ArchiveError> {
        let uploaded = self
            .s3
            .upload_part()
            .bucket(&self.settings.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|err| {
                transient(
                    &format!("uploading part {number}"),
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(uploaded.e_tag().map(str::to_owned))
            .build())
    }

    /// Never leaves parts behind: a failed abort is logged (and the bucket's lifecycle rule cleans up).
    async fn abort(&self, key: &str, upload_id: &str) {
        let aborted = self
            .s3
            .abort_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(err) = aborted {
            tracing::error!(key, error = %aws_sdk_s3::error::DisplayErrorContext(err), "could not abort a multipart upload");
        }
    }

    async fn record(&self, record: ArchiveRecord) -> Result<(), ArchiveError> {
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&record)
            .map_err(|err| transient("recording the outcome", err))?;
        self.dynamodb
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| {
                transient(
                    "recording the outcome",
                    aws_sdk_dynamodb::error::DisplayErrorContext(err),
                )
            })
    }
}

fn outcome_word(outcome: &Archived) -> &'static str {
    match outcome {
        Archived::Copied { .. } => "copied",
        Archived::AlreadyThere { .. } => "already_archived",
        Archived::External { .. } => "external",
    }
}

/// Object metadata: what the media is, so the bucket can be understood without the table.
fn metadata(message: &MediaMessage) -> HashMap<String, String> {
    let mut metadata = HashMap::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            metadata.insert(name.to_owned(), value);
        }
    };
    put("account-sid", Some(message.account_sid.clone()));
    put("room-sid", Some(message.room_sid.clone()));
    put("participant-sid", message.participant_sid.clone());
    put("recording-sid", message.recording_sid.clone());
    put("composition-sid", message.composition_sid.clone());
    put("codec", message.codec.as_ref().map(|c| c.to_string()));
    put("duration", message.duration.map(|d| d.to_string()));
    put("idempotency-key", Some(message.idempotency_key.clone()));
    metadata
}

/// An S3 client from the shared configuration; path-style addressing when an endpoint is set (moto).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_parse_from_sid_colon_secret_and_never_print_the_secret() {
        let key = ApiKey::parse(" SK123:s3cr3t:with-colon ").unwrap_or_else(|| panic!("parses"));
        assert_eq!(key.sid, "SK123");
        assert_eq!(key.secret, "s3cr3t:with-colon");
        assert!(!format!("{key:?}").contains("s3cr3t"));
        assert_eq!(
            key.basic_auth(),
            format!("Basic {}", BASE64.encode("SK123:s3cr3t:with-colon"))
        );
        assert!(ApiKey::parse("no-colon").is_none());
        assert!(ApiKey::parse(":secret").is_none());
        assert!(ApiKey::parse("SK1:").is_none());
    }

    #[test]
    fn metadata_names_the_media() {
        let message = MediaMessage {
            schema_version: 1,
            event: "composition-available".into(),
            idempotency_key: "k".into(),
            account_sid: "AC1".into(),
            room_sid: "RM1".into(),
            room_name: None,
            recording_sid: None,
            composition_sid: Some("CJ1".into()),
            participant_sid: None,
            source_sid: None,
            track_name: None,
            media_type: None,
            container: None,
            codec: None,
            media_uri: None,
            media_url: None,
            media_external_location: None,
            duration: Some(30),
            size: None,
            timestamp: "t".into(),
        };
        let metadata = metadata(&message);
        assert_eq!(
            metadata.get("composition-sid").map(String::as_str),
            Some("CJ1")
        );
        assert_eq!(metadata.get("duration").map(String::as_str), Some("30"));
        assert!(!metadata.contains_key("recording-sid"));
    }
}
