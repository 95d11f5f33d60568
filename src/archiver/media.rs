//! The Twilio media client: GET a recording's or composition's `/Media` with the API key, follow Twilio's
//! redirect to the short-lived file URL *without* the key, and hand back the file as a stream.

use std::future::Future;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::archiver::rules::ArchiveError;

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

    /// The key's SID (not secret).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The `Authorization` header's value.
    pub(crate) fn basic_auth(&self) -> String {
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

/// A media file being served: its headers, and the body still to be read.
pub struct MediaStream {
    /// `Content-Type` as served (`application/octet-stream` when absent).
    pub content_type: String,
    /// `Content-Length`, when the server sent one.
    pub content_length: Option<u64>,
    /// The bytes, read frame by frame; an error means the transfer broke off.
    pub body: BoxBody<Bytes, std::io::Error>,
}

impl std::fmt::Debug for MediaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStream")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

/// Where media files are read from: Twilio in production, a fake in unit tests.
pub trait MediaSource: Send + Sync {
    /// Opens the media at `url` (Twilio's `/Media` URL), following its redirect.
    fn open(&self, url: &str) -> impl Future<Output = Result<MediaStream, ArchiveError>> + Send;
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// An HTTP/1.1 client for Twilio's APIs: rustls with the compiled-in roots, plain HTTP for local fakes.
pub(crate) fn https_client<B>() -> Result<Client<HttpsConnector<HttpConnector>, B>, std::io::Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let tls = crate::aws::tls::client_config().map_err(std::io::Error::other)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Twilio's media endpoints over HTTPS (rustls, the compiled-in roots), with an API key.
pub struct TwilioMedia {
    http: HttpClient,
    key: ApiKey,
    read_timeout: Duration,
}

impl TwilioMedia {
    /// A client sending `key` to Twilio (never to the file's host), waiting at most `read_timeout` for
    /// response headers.
    pub fn new(key: ApiKey, read_timeout: Duration) -> Result<Self, std::io::Error> {
        Ok(TwilioMedia {
            http: https_client()?,
            key,
            read_timeout,
        })
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
        match tokio::time::timeout(self.read_timeout, self.http.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(ArchiveError::Transient(format!("connection failed: {err}"))),
            Err(_) => Err(ArchiveError::Transient(format!(
                "no response within {:?}",
                self.read_timeout
            ))),
        }
    }
}

impl MediaSource for TwilioMedia {
    async fn open(&self, url: &str) -> Result<MediaStream, ArchiveError> {
        // Twilio: with the key. It answers a redirect to a short-lived URL of the file.
        let response = self.get(url, true).await?;
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
                    url: url.to_owned(),
                })
            }
            status => {
                return Err(ArchiveError::Transient(format!(
                    "Twilio answered {status} for {url}"
                )))
            }
        };
        Ok(stream(response))
    }
}

fn stream(response: Response<Incoming>) -> MediaStream {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
    };
    let content_type = header(hyper::header::CONTENT_TYPE)
        .unwrap_or("application/octet-stream")
        .to_owned();
    let content_length = header(hyper::header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    MediaStream {
        content_type,
        content_length,
        body: response.into_body().map_err(std::io::Error::other).boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_parse_from_sid_colon_secret_and_never_print_the_secret() {
        let key = ApiKey::parse(" SK123:s3cr3t:with-colon ").unwrap_or_else(|| panic!("parses"));
        assert_eq!(key.sid(), "SK123");
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
}
