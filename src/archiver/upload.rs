//! The archive bucket: is a media file already there, and a streamed S3 multipart upload that completes
//! only when every byte the source promised has arrived (and aborts otherwise, leaving no parts behind).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use http_body_util::BodyExt;

use crate::archiver::media::MediaStream;
use crate::archiver::rules::{self, ArchiveError};

/// A file written to the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// `s3://bucket/key`.
    pub s3_uri: String,
    /// Bytes written.
    pub size: u64,
}

/// Where media files are kept: an S3 bucket in production, memory in unit tests.
pub trait MediaSink: Send + Sync {
    /// The URI of an object whose key starts with `stem` and that holds exactly `size` bytes, if any.
    fn find(
        &self,
        stem: &str,
        size: u64,
    ) -> impl Future<Output = Result<Option<String>, ArchiveError>> + Send;

    /// Streams `media` into a new object at `key`, completing it only when the byte count agrees with
    /// the stream's `Content-Length` and with `expected_size` ([`rules::check_length`]).
    fn upload(
        &self,
        key: &str,
        media: MediaStream,
        metadata: HashMap<String, String>,
        expected_size: Option<u64>,
    ) -> impl Future<Output = Result<Uploaded, ArchiveError>> + Send;
}

fn transient(what: &str, err: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Transient(format!("{what}: {err}"))
}

/// The archive bucket in S3 (server-side encrypted, multipart).
#[derive(Debug, Clone)]
pub struct S3Archive {
    s3: aws_sdk_s3::Client,
    bucket: String,
    part_size: usize,
    read_timeout: Duration,
}

impl S3Archive {
    /// Writes to `bucket` in parts of `part_size` bytes (S3's minimum is 5 MiB; memory use is about twice
    /// this), giving up when the source sends nothing for `read_timeout`.
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        part_size: usize,
        read_timeout: Duration,
    ) -> Self {
        S3Archive {
            s3,
            bucket: bucket.into(),
            part_size,
            read_timeout,
        }
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Reads the body chunk by chunk and uploads a part whenever `part_size` bytes have arrived: at most
    /// one part is in memory while the next fills.
    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        media: &mut MediaStream,
    ) -> Result<(Vec<CompletedPart>, u64), ArchiveError> {
        let part_size = self.part_size;
        let mut parts = Vec::new();
        let mut buffer: Vec<u8> = Vec::with_capacity(part_size);
        let mut count: u64 = 0;
        loop {
            let frame = match tokio::time::timeout(self.read_timeout, media.body.frame()).await {
                Err(_) => {
                    return Err(ArchiveError::Transient(format!(
                        "the media stalled for {:?} after {count} bytes",
                        self.read_timeout
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
            .bucket(&self.bucket)
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
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(err) = aborted {
            tracing::error!(key, error = %aws_sdk_s3::error::DisplayErrorContext(err), "could not abort a multipart upload");
        }
    }
}

impl MediaSink for S3Archive {
    async fn find(&self, stem: &str, size: u64) -> Result<Option<String>, ArchiveError> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(stem)
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
            .map(|key| self.uri(key)))
    }

    async fn upload(
        &self,
        key: &str,
        mut media: MediaStream,
        metadata: HashMap<String, String>,
        expected_size: Option<u64>,
    ) -> Result<Uploaded, ArchiveError> {
        let upload = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(&media.content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .set_metadata(Some(metadata))
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
            .upload_parts(key, &upload_id, &mut media)
            .await
            .and_then(|(parts, count)| {
                rules::check_length(count, media.content_length, expected_size)?;
                Ok((parts, count))
            });
        let (parts, count) = match result {
            Ok(done) => done,
            Err(err) => {
                self.abort(key, &upload_id).await;
                return Err(err);
            }
        };
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        if let Err(err) = completed {
            self.abort(key, &upload_id).await;
            return Err(transient(
                "completing the upload",
                aws_sdk_s3::error::DisplayErrorContext(err),
            ));
        }
        Ok(Uploaded {
            s3_uri: self.uri(key),
            size: count,
        })
    }
}
