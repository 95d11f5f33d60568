//! The Twilio media client: GET a recording's or composition's `/Media` with the API key, follow Twilio's
//! redirect to the short-lived file URL *without* the key, and hand back the file as a stream.

use std::future::Future;
use std::time::Duration;

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
pub use crate::twilio::api_keys::{ApiKey, ApiKeys};
use crate::twilio::envelope::META_PREFIX;

/// A media file being served: its headers, and the body still to be read.
pub struct MediaStream {
    /// `Content-Type` as served (`application/octet-stream` when absent).
    pub content_type: String,
    /// `Content-Length`, when the server sent one.
    pub content_length: Option<u64>,
    /// Every `x-amz-meta-*` header served, as user metadata: names without the prefix (lowercase), in
    /// the order served. Twilio's encryption envelope travels here
    /// ([`crate::twilio::envelope::Envelope::from_metadata`]).
    pub metadata: Vec<(String, String)>,
    /// The bytes, read frame by frame; an error means the transfer broke off.
    pub body: BoxBody<Bytes, std::io::Error>,
}

impl std::fmt::Debug for MediaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStream")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// Where media files are read from: Twilio in production, a fake in unit tests.
pub trait MediaSource: Send + Sync {
    /// Opens the media at `url` (Twilio's `/Media` URL) of `account` (its SID: which API key reads it),
    /// following its redirect.
    fn open(
        &self,
        url: &str,
        account: &str,
    ) -> impl Future<Output = Result<MediaStream, ArchiveError>> + Send;
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// An HTTP/1.1 client for Twilio's APIs: rustls with the compiled-in roots, plain HTTP for local fakes.
#[cfg(feature = "operator")]
pub(crate) fn https_client<B>() -> Result<Client<HttpsConnector<HttpConnector>, B>, std::io::Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    Ok(Client::builder(TokioExecutor::new()).build(https_connector()?))
}

fn https_connector() -> Result<HttpsConnector<HttpConnector>, std::io::Error> {
    let tls = crate::aws::tls::client_config().map_err(std::io::Error::other)?;
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build())
}

/// The most a media connection's read buffer holds (hyper's default is about 400 KiB). A message waiting
/// for a part slot keeps at most this much of its file, so a batch's read buffers stay a fraction of a
/// part whatever its size; the body still arrives in reads of up to this size.
pub const MEDIA_READ_BUFFER: usize = 128 * 1024;

/// Twilio's media endpoints over HTTPS (rustls, the compiled-in roots), with each account's API key.
pub struct TwilioMedia {
    http: HttpClient,
    keys: ApiKeys,
    read_timeout: Duration,
}

impl TwilioMedia {
    /// A client sending the account's key from `keys` to Twilio (never to the file's host), waiting at
    /// most `read_timeout` for response headers.
    pub fn new(keys: ApiKeys, read_timeout: Duration) -> Result<Self, std::io::Error> {
        Ok(TwilioMedia {
            http: Client::builder(TokioExecutor::new())
                .http1_max_buf_size(MEDIA_READ_BUFFER)
                .build(https_connector()?),
            keys,
            read_timeout,
        })
    }

    async fn get(
        &self,
        url: &str,
        key: Option<&ApiKey>,
    ) -> Result<Response<Incoming>, ArchiveError> {
        let mut request =
            Request::get(url).header(hyper::header::USER_AGENT, "twilio-video-callbacks-archiver");
        if let Some(key) = key {
            request = request.header(hyper::header::AUTHORIZATION, key.basic_auth());
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
    async fn open(&self, url: &str, account: &str) -> Result<MediaStream, ArchiveError> {
        let key = self
            .keys
            .for_account(account)
            .ok_or_else(|| ArchiveError::NoKey {
                account: account.to_owned(),
            })?;
        // Twilio: with the account's key. It answers a redirect to a short-lived URL of the file.
        let response = self.get(url, Some(key)).await?;
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
                let file = self.get(&location, None).await?;
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
    let metadata = response
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix(META_PREFIX)?;
            Some((name.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    MediaStream {
        content_type,
        content_length,
        metadata,
        body: response.into_body().map_err(std::io::Error::other).boxed(),
    }
}
