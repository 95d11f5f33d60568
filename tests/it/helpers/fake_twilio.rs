//! A fake of Twilio's media endpoints, on loopback, for the archiver's tests.
//!
//! `GET /v1/Recordings/{sid}/Media` and `/v1/Compositions/{sid}/Media` require HTTP Basic auth with the
//! test key and answer `302` to `/files/{sid}` (with `redirect_to` in the JSON body, as Twilio does).
//! `/files/{sid}` serves a deterministic byte pattern of the configured size and content type, and counts
//! every request that carries an `Authorization` header (credentials that crossed the redirect). Each
//! media can be told to fail: 500 for its first N requests, a fixed status (404, 401...), a body cut
//! short, a stall, or a first transfer that breaks off and expires its URL. Each redirect names a new
//! short-lived URL (`/files/{sid}?token=N`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub const KEY_SID: &str = "SKtest0000000000000000000000000001";
pub const KEY_SECRET: &str = "fake-local-secret-not-real";

/// How one media file behaves.
#[derive(Debug, Clone, Default)]
pub struct Media {
    pub size: u64,
    pub content_type: String,
    /// Answer 500 to this many API requests first.
    pub fail_first: usize,
    /// Always answer the API request with this status.
    pub status: Option<u16>,
    /// Send only this many bytes of the file (Content-Length still says `size`).
    pub truncate_at: Option<u64>,
    /// Stop sending (without closing) after this many bytes.
    pub stall_at: Option<u64>,
    /// The first transfer of the file breaks off (the connection fails) after this many bytes, and its
    /// short-lived URL expires with it: a later request of that URL gets 403, as an expired one would.
    pub break_first_at: Option<u64>,
    /// Serve these bytes instead of the pattern (an encrypted file's ciphertext); `size` is then the
    /// message's size only, and `Content-Length` is theirs.
    pub bytes: Option<Bytes>,
    /// Extra headers on the file's response (an encryption envelope: `x-amz-meta-x-amz-key`, ...).
    pub headers: Vec<(String, String)>,
    /// The API key (SID, secret) of the media's account, when not the test key.
    pub key: Option<(String, String)>,
}

#[derive(Default)]
pub struct State {
    media: Mutex<HashMap<String, Media>>,
    pub api_requests: AtomicUsize,
    pub file_requests: AtomicUsize,
    pub leaked_credentials: AtomicUsize,
    /// Requests of a file URL that had expired (answered 403).
    pub expired_requests: AtomicUsize,
    issued: AtomicUsize,
    expired: Mutex<Vec<String>>,
    broken: Mutex<Vec<String>>,
}

pub struct FakeTwilio {
    pub url: String,
    pub state: Arc<State>,
}

impl FakeTwilio {
    pub fn add(&self, sid: &str, media: Media) {
        self.state
            .media
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(sid.to_owned(), media);
    }
}

/// The byte at `position` of every served file.
pub fn pattern_byte(position: u64) -> u8 {
    (position.wrapping_mul(2_654_435_761) >> 13) as u8
}

pub async fn start() -> FakeTwilio {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|err| panic!("{err}"))
    );
    let state = Arc::new(State::default());
    let (served, base) = (state.clone(), url.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (state, base) = (served.clone(), base.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    route(request, state.clone(), base.clone())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FakeTwilio { url, state }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

fn full(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap_or_else(|err| panic!("{err}"))
}

async fn route(
    request: Request<Incoming>,
    state: Arc<State>,
    base: String,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let media = |sid: &str| {
        state
            .media
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sid)
            .cloned()
    };
    match parts.as_slice() {
        ["v1", "Recordings" | "Compositions", sid, "Media"] => {
            state.api_requests.fetch_add(1, Ordering::SeqCst);
            use base64::Engine as _;
            let found = media(sid);
            let (key_sid, key_secret) = found
                .as_ref()
                .and_then(|m| m.key.clone())
                .unwrap_or((KEY_SID.to_owned(), KEY_SECRET.to_owned()));
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{key_sid}:{key_secret}"))
            );
            if authorization.as_deref() != Some(expected.as_str()) {
                return Ok(full(
                    401,
                    r#"{"code":20003,"message":"Authenticate"}"#.into(),
                ));
            }
            let Some(mut found) = found else {
                return Ok(full(404, r#"{"code":20404,"message":"Not found"}"#.into()));
            };
            if let Some(status) = found.status {
                return Ok(full(status, format!("{{\"status\":{status}}}")));
            }
            if found.fail_first > 0 {
                found.fail_first -= 1;
                state
                    .media
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert((*sid).to_owned(), found);
                return Ok(full(500, r#"{"message":"injected"}"#.into()));
            }
            let token = state.issued.fetch_add(1, Ordering::SeqCst);
            let location = format!("{base}/files/{sid}?token={token}&Expires=1795770000");
            let mut response = full(302, format!("{{\"redirect_to\":\"{location}\"}}"));
            response.headers_mut().insert(
                "location",
                location.parse().unwrap_or_else(|err| panic!("{err}")),
            );
            Ok(response)
        }
        ["files", sid] => {
            state.file_requests.fetch_add(1, Ordering::SeqCst);
            if authorization.is_some() {
                state.leaked_credentials.fetch_add(1, Ordering::SeqCst);
            }
            let Some(found) = media(sid) else {
                return Ok(full(404, "{}".into()));
            };
            let url = request.uri().to_string();
            if state
                .expired
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&url)
            {
                state.expired_requests.fetch_add(1, Ordering::SeqCst);
                return Ok(full(403, r#"{"message":"Request has expired"}"#.into()));
            }
            let break_at = found.break_first_at.filter(|_| {
                let mut broken = state
                    .broken
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let first = !broken.iter().any(|b| b == *sid);
                if first {
                    broken.push((*sid).to_owned());
                    state
                        .expired
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(url.clone());
                }
                first
            });
            let mut response = Response::builder()
                .status(200)
                .header("content-type", found.content_type.clone());
            for (name, value) in &found.headers {
                response = response.header(name.as_str(), value.as_str());
            }
            if let Some(bytes) = &found.bytes {
                return Ok(response
                    .header("content-length", bytes.len().to_string())
                    .body(
                        Full::new(bytes.clone())
                            .map_err(|never| match never {})
                            .boxed(),
                    )
                    .unwrap_or_else(|err| panic!("{err}")));
            }
            let end = found.truncate_at.unwrap_or(found.size).min(found.size);
            let body = Pattern {
                sent: 0,
                end,
                stall_at: found.stall_at,
                break_at,
                stall: None,
            };
            Ok(response
                .header("content-length", found.size.to_string())
                .body(body.boxed())
                .unwrap_or_else(|err| panic!("{err}")))
        }
        _ => Ok(full(404, "{}".into())),
    }
}

/// The file's bytes, generated 64 KiB at a time (the server never holds a whole file either).
struct Pattern {
    sent: u64,
    end: u64,
    stall_at: Option<u64>,
    break_at: Option<u64>,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for Pattern {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.break_at.is_some_and(|at| self.sent >= at) {
            return Poll::Ready(Some(Err(std::io::Error::other("connection broken"))));
        }
        if self.stall_at.is_some_and(|at| self.sent >= at) {
            let sleep = self
                .stall
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_secs(3600))));
            return sleep.as_mut().poll(cx).map(|()| None);
        }
        if self.sent >= self.end {
            return Poll::Ready(None);
        }
        let mut limit = self.end;
        for at in [self.stall_at, self.break_at].into_iter().flatten() {
            limit = limit.min(at);
        }
        let n = (limit - self.sent).min(64 * 1024);
        let start = self.sent;
        let chunk: Vec<u8> = (start..start + n).map(pattern_byte).collect();
        self.sent += n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }
}
