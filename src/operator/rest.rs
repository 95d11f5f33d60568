//! Twilio's Video REST API, as the operator needs it: the lists of Recordings, Compositions and Rooms
//! (paged by `meta.next_page_url`) and the media's `DELETE`, within Twilio's rate limits.
//!
//! Twilio's "Programmable Video limits": 80 reads and 20 writes a second per account by default; over the
//! limit Twilio answers 429 (error 20429), which is "never processed and always safe to retry". Every call
//! here waits for its turn at a configured rate (reads and writes paced apart), and a 429 (or a 5xx, or a
//! broken connection) is retried after `Retry-After` when Twilio gives one, else after an exponential
//! back-off.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde::Deserialize;
use tokio::time::Instant;

use crate::archiver::media::{https_client, ApiKey};
use crate::archiver::rules::rebase;

/// The largest `PageSize` Twilio accepts on `/v1/Recordings` and `/v1/Compositions`.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Tries per request before giving up (the first included).
const ATTEMPTS: u32 = 8;

/// Why a call to Twilio failed for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// Twilio answered with an error status.
    #[error("Twilio answered {status} for {method} {url}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// GET or DELETE.
        method: String,
        /// The URL (never with credentials).
        url: String,
        /// The start of Twilio's error body.
        body: String,
    },
    /// Still rate limited (429) after every retry.
    #[error("Twilio kept answering 429 for {url} after {ATTEMPTS} tries: lower --read-rate/--write-rate")]
    RateLimited {
        /// The URL.
        url: String,
    },
    /// The connection failed on every try.
    #[error("could not reach Twilio at {url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// The last error.
        reason: String,
    },
    /// The answer is not the JSON Twilio documents.
    #[error("unexpected answer from {url}: {reason}")]
    Unreadable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// At most `rate` calls a second, spaced evenly, shared by every task that uses it.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl Pacer {
    /// `rate` calls a second; 0 means no limit.
    pub fn per_second(rate: f64) -> Self {
        let interval = if rate > 0.0 {
            Duration::from_secs_f64(1.0 / rate)
        } else {
            Duration::ZERO
        };
        Pacer {
            interval,
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next free slot.
    pub async fn wait(&self) {
        if self.interval.is_zero() {
            return;
        }
        let mut next = self.next.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.interval;
    }
}

/// The `meta` block of every Twilio list page.
#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    /// The next page, absolute; `null` on the last page.
    #[serde(default)]
    pub next_page_url: Option<String>,
    /// The page size Twilio applied.
    #[serde(default)]
    pub page_size: Option<u32>,
}

/// `grouping_sids` of a Recording.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupingSids {
    /// The room.
    #[serde(default)]
    pub room_sid: Option<String>,
    /// The participant.
    #[serde(default)]
    pub participant_sid: Option<String>,
}

/// `links` of a Recording or Composition.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Links {
    /// The `/Media` URL: answers a redirect to the file.
    #[serde(default)]
    pub media: Option<String>,
}

/// A Recording resource, as `GET /v1/Recordings` lists it (the fields the archive needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Recording {
    /// `RT...`.
    pub sid: String,
    /// The account.
    pub account_sid: String,
    /// processing, completed, deleted, failed.
    #[serde(default)]
    pub status: Option<String>,
    /// ISO 8601.
    #[serde(default)]
    pub date_created: Option<String>,
    /// The recorded track (`MT...`).
    #[serde(default)]
    pub source_sid: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// audio, video, data.
    #[serde(default, rename = "type")]
    pub media_type: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<u64>,
    /// mka, mkv.
    #[serde(default)]
    pub container_format: Option<String>,
    /// opus, pcmu, vp8, h264, ...
    #[serde(default)]
    pub codec: Option<String>,
    /// Room and participant.
    #[serde(default)]
    pub grouping_sids: Option<GroupingSids>,
    /// The track's name.
    #[serde(default)]
    pub track_name: Option<String>,
    /// Set when Twilio stored the media in the customer's own storage.
    #[serde(default)]
    pub media_external_location: Option<String>,
    /// Related URLs.
    #[serde(default)]
    pub links: Option<Links>,
}

/// A Composition resource, as `GET /v1/Compositions` lists it (the fields the archive needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Composition {
    /// `CJ...`.
    pub sid: String,
    /// The account.
    pub account_sid: String,
    /// enqueued, processing, completed, deleted, failed.
    #[serde(default)]
    pub status: Option<String>,
    /// ISO 8601.
    #[serde(default)]
    pub date_created: Option<String>,
    /// ISO 8601.
    #[serde(default)]
    pub date_completed: Option<String>,
    /// The room.
    #[serde(default)]
    pub room_sid: Option<String>,
    /// mp4, webm.
    #[serde(default)]
    pub format: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<u64>,
    /// Set when Twilio stored the media in the customer's own storage.
    #[serde(default)]
    pub media_external_location: Option<String>,
    /// Related URLs.
    #[serde(default)]
    pub links: Option<Links>,
}

/// A Room resource, as `GET /v1/Rooms` lists it (the fields `check` needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Room {
    /// `RM...`.
    pub sid: String,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// in-progress, completed, failed.
    #[serde(default)]
    pub status: Option<String>,
    /// The name the application gave the room (Twilio sets the SID when it gave none).
    #[serde(default)]
    pub unique_name: Option<String>,
    /// The URL Twilio sends the room's status callbacks to, as set when the room was created (connection
    /// overrides included); `null` or empty when none was set.
    #[serde(default)]
    pub status_callback: Option<String>,
    /// ISO 8601.
    #[serde(default)]
    pub date_created: Option<String>,
}

/// The room statuses `GET /v1/Rooms` filters on (without `Status`, Twilio lists only `in-progress`).
pub const ROOM_STATUSES: [&str; 3] = ["in-progress", "completed", "failed"];

#[derive(Debug, Deserialize)]
struct RoomPage {
    #[serde(default)]
    rooms: Vec<Room>,
    meta: Meta,
}

#[derive(Debug, Deserialize)]
struct RecordingPage {
    #[serde(default)]
    recordings: Vec<Recording>,
    meta: Meta,
}

#[derive(Debug, Deserialize)]
struct CompositionPage {
    #[serde(default)]
    compositions: Vec<Composition>,
    meta: Meta,
}

/// Where a paged list stands: the next URL to read, if any.
#[derive(Debug, Clone)]
pub struct Cursor(Option<String>);

impl Cursor {
    /// Whether the last page has been read.
    pub fn done(&self) -> bool {
        self.0.is_none()
    }
}

/// The date filter of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// `DateCreatedAfter` (RFC 3339).
    pub after: String,
    /// `DateCreatedBefore` (RFC 3339), if any.
    pub before: Option<String>,
}

/// Twilio's Video REST API with an API key, paced.
pub struct TwilioRest {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    key: ApiKey,
    base_url: String,
    reads: Pacer,
    writes: Pacer,
    backoff: Duration,
}

impl TwilioRest {
    /// A client for `base_url` (`https://video.twilio.com`, or a fake in tests) making at most
    /// `read_rate` reads and `write_rate` writes a second (0: unlimited).
    pub fn new(
        key: ApiKey,
        base_url: &str,
        read_rate: f64,
        write_rate: f64,
    ) -> Result<Self, std::io::Error> {
        Ok(TwilioRest {
            http: https_client()?,
            key,
            base_url: base_url.trim_end_matches('/').to_owned(),
            reads: Pacer::per_second(read_rate),
            writes: Pacer::per_second(write_rate),
            backoff: Duration::from_millis(500),
        })
    }

    /// The first back-off after a 429 without `Retry-After` (doubled each time, at most 30 s).
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    fn list_url(&self, path: &str, created: &Created) -> String {
        self.list_url_with_status(path, "completed", created)
    }

    fn list_url_with_status(&self, path: &str, status: &str, created: &Created) -> String {
        let mut query: Vec<(&str, &str)> = vec![
            ("Status", status),
            ("DateCreatedAfter", created.after.as_str()),
        ];
        if let Some(before) = &created.before {
            query.push(("DateCreatedBefore", before.as_str()));
        }
        let page_size = MAX_PAGE_SIZE.to_string();
        query.push(("PageSize", page_size.as_str()));
        let query = serde_urlencoded::to_string(&query).unwrap_or_default();
        format!("{}{path}?{query}", self.base_url)
    }

    /// Where the completed recordings created in `created` start.
    pub fn recordings(&self, created: &Created) -> Cursor {
        Cursor(Some(self.list_url("/v1/Recordings", created)))
    }

    /// Where the completed compositions created in `created` start.
    pub fn compositions(&self, created: &Created) -> Cursor {
        Cursor(Some(self.list_url("/v1/Compositions", created)))
    }

    /// Where the rooms of `status` (one of [`ROOM_STATUSES`]) created in `created` start.
    pub fn rooms(&self, status: &str, created: &Created) -> Cursor {
        Cursor(Some(self.list_url_with_status(
            "/v1/Rooms",
            status,
            created,
        )))
    }

    /// The next page of rooms (empty once `cursor` is done).
    pub async fn next_rooms(&self, cursor: &mut Cursor) -> Result<Vec<Room>, RestError> {
        let Some(url) = cursor.0.take() else {
            return Ok(Vec::new());
        };
        let page: RoomPage = self.get_json(&url).await?;
        cursor.0 = self.next(page.meta)?;
        Ok(page.rooms)
    }

    /// The next page of recordings (empty once `cursor` is done).
    pub async fn next_recordings(&self, cursor: &mut Cursor) -> Result<Vec<Recording>, RestError> {
        let Some(url) = cursor.0.take() else {
            return Ok(Vec::new());
        };
        let page: RecordingPage = self.get_json(&url).await?;
        cursor.0 = self.next(page.meta)?;
        Ok(page.recordings)
    }

    /// The next page of compositions (empty once `cursor` is done).
    pub async fn next_compositions(
        &self,
        cursor: &mut Cursor,
    ) -> Result<Vec<Composition>, RestError> {
        let Some(url) = cursor.0.take() else {
            return Ok(Vec::new());
        };
        let page: CompositionPage = self.get_json(&url).await?;
        cursor.0 = self.next(page.meta)?;
        Ok(page.compositions)
    }

    /// `next_page_url` is absolute (Twilio's host): kept on the configured base URL.
    fn next(&self, meta: Meta) -> Result<Option<String>, RestError> {
        meta.next_page_url
            .filter(|url| !url.is_empty())
            .map(|url| {
                rebase(&url, &self.base_url).map_err(|err| RestError::Unreadable {
                    url,
                    reason: err.to_string(),
                })
            })
            .transpose()
    }

    /// `DELETE /v1/Recordings/{sid}` or `/v1/Compositions/{sid}`; a 404 (already gone) counts as done.
    pub async fn delete(&self, kind_path: &str, sid: &str) -> Result<(), RestError> {
        let url = format!("{}/v1/{kind_path}/{sid}", self.base_url);
        match self.call(Method::DELETE, &url).await {
            Ok(_) => Ok(()),
            Err(RestError::Status { status: 404, .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, RestError> {
        let body = self.call(Method::GET, url).await?;
        serde_json::from_slice(&body).map_err(|err| RestError::Unreadable {
            url: url.to_owned(),
            reason: err.to_string(),
        })
    }

    async fn call(&self, method: Method, url: &str) -> Result<Bytes, RestError> {
        let pacer = if method == Method::GET {
            &self.reads
        } else {
            &self.writes
        };
        let mut backoff = self.backoff;
        let mut last_transport = String::new();
        for attempt in 1..=ATTEMPTS {
            pacer.wait().await;
            let request = Request::builder()
                .method(method.clone())
                .uri(url)
                .header(hyper::header::AUTHORIZATION, self.key.basic_auth())
                .header(hyper::header::USER_AGENT, "twilio-video-callbacks-operator")
                .body(Full::new(Bytes::new()))
                .map_err(|err| RestError::Unreadable {
                    url: url.to_owned(),
                    reason: err.to_string(),
                })?;
            let wait = match self.http.request(request).await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(hyper::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = match response.into_body().collect().await {
                        Ok(body) => body.to_bytes(),
                        Err(err) => {
                            last_transport = err.to_string();
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(30));
                            continue;
                        }
                    };
                    if status.is_success() {
                        return Ok(body);
                    }
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable {
                        return Err(RestError::Status {
                            status: status.as_u16(),
                            method: method.to_string(),
                            url: url.to_owned(),
                            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
                        });
                    }
                    if attempt == ATTEMPTS {
                        return Err(if status == StatusCode::TOO_MANY_REQUESTS {
                            RestError::RateLimited {
                                url: url.to_owned(),
                            }
                        } else {
                            RestError::Status {
                                status: status.as_u16(),
                                method: method.to_string(),
                                url: url.to_owned(),
                                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
                            }
                        });
                    }
                    retry_after.unwrap_or(backoff)
                }
                Err(err) => {
                    last_transport = err.to_string();
                    backoff
                }
            };
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        Err(RestError::Transport {
            url: url.to_owned(),
            reason: last_transport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pacer_spaces_calls_evenly() {
        let pacer = Pacer::per_second(10.0);
        let started = Instant::now();
        for _ in 0..11 {
            pacer.wait().await;
        }
        // The first call goes at once, the next ten at 100 ms intervals.
        assert_eq!(started.elapsed(), Duration::from_millis(1000));
        let unlimited = Pacer::per_second(0.0);
        let started = Instant::now();
        for _ in 0..100 {
            unlimited.wait().await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[test]
    fn listings_ask_for_completed_media_in_the_range_at_the_largest_page_size() {
        let rest = TwilioRest::new(ApiKey::new("SK1", "s"), "http://127.0.0.1:9/", 0.0, 0.0);
        let Ok(rest) = rest else { panic!("client") };
        let created = Created {
            after: "2026-01-01T00:00:00Z".into(),
            before: Some("2026-02-01T00:00:00Z".into()),
        };
        let Cursor(Some(url)) = rest.recordings(&created) else {
            panic!("a first page")
        };
        assert_eq!(
            url,
            "http://127.0.0.1:9/v1/Recordings?Status=completed&DateCreatedAfter=2026-01-01T00%3A00%3A00Z\
             &DateCreatedBefore=2026-02-01T00%3A00%3A00Z&PageSize=100"
        );
        let next = rest.next(Meta {
            next_page_url: Some(
                "https://video.twilio.com/v1/Recordings?PageSize=100&Page=1&PageToken=PA1".into(),
            ),
            page_size: Some(100),
        });
        assert_eq!(
            next,
            Ok(Some(
                "http://127.0.0.1:9/v1/Recordings?PageSize=100&Page=1&PageToken=PA1".into()
            ))
        );
    }
}
