//! A fake of Twilio's Video REST API lists and deletes, on loopback, built from Twilio's OpenAPI
//! description (`twilio/twilio-oai`, `spec/json/twilio_video_v1.json`) and `TWILIO-FACTS.md`:
//!
//! - `GET /v1/Recordings` and `/v1/Compositions` filter on `Status` (deleted media only when asked for),
//!   `DateCreatedAfter`, `DateCreatedBefore`; pages of at most `PageSize` (1 to 100, else 400 with
//!   Twilio's error body), `meta.next_page_url` absolute on Twilio's own host (`null` on the last page);
//! - `GET /v1/Rooms` filters on `Status` (`in-progress` when not given, as Twilio does), `DateCreatedAfter`
//!   and `DateCreatedBefore`; `PageSize` 1 to 1000; the same `meta`, under the key `rooms`;
//! - `DELETE /v1/{Recordings,Compositions}/{sid}` answers 204 and marks the resource deleted;
//! - every request needs the test API key (HTTP Basic); with keys by account ([`FakeRest::key`]), a
//!   request needs one of them (else 401, as Twilio answers a wrong key) and sees only its account's
//!   resources, as a key of one account does at Twilio; and every `throttle_every`-th request is answered
//!   429 with Twilio's error 20429: the first two of each method (GET, DELETE, ...) with `Retry-After: 1`,
//!   the rest without. Each `Retry-After` costs the client a real second, so two per method prove it is
//!   obeyed on every path without making a long run sleep for minutes; the rest exercise the back-off.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::fake_twilio::{KEY_SECRET, KEY_SID};

const TWILIO: &str = "https://video.twilio.com";

#[derive(Default)]
pub struct RestState {
    /// `Recordings`, `Compositions` and `Rooms`, each by SID.
    resources: Mutex<BTreeMap<&'static str, BTreeMap<String, Value>>>,
    pub requests: AtomicUsize,
    pub throttled: AtomicUsize,
    pub throttled_with_retry_after: AtomicUsize,
    /// Throttled requests answered with `Retry-After`, by method.
    retry_after_by_method: Mutex<BTreeMap<String, usize>>,
    /// When each request arrived, for the rate check.
    pub arrivals: Mutex<Vec<std::time::Instant>>,
    /// Every `PageSize` asked for.
    pub page_sizes: Mutex<Vec<u32>>,
    /// SIDs deleted, in order.
    pub deleted: Mutex<Vec<String>>,
    throttle_every: usize,
    /// `Authorization` header -> account, when keys are by account.
    keys: Mutex<BTreeMap<String, String>>,
}

pub struct FakeRest {
    pub url: String,
    pub state: Arc<RestState>,
}

impl FakeRest {
    /// Adds a Recording, Composition or Room resource (its JSON as Twilio lists it).
    pub fn add(&self, collection: &'static str, resource: Value) {
        let sid = resource["sid"].as_str().unwrap_or_default().to_owned();
        lock(&self.state.resources)
            .entry(collection)
            .or_default()
            .insert(sid, resource);
    }

    /// Gives `account` its own key: from now on every request needs one of the keys given, and sees
    /// only that key's account.
    pub fn key(&self, account: &str, sid: &str, secret: &str) {
        lock(&self.state.keys).insert(basic(sid, secret), account.to_owned());
    }

    /// The status of `sid` now.
    pub fn status(&self, collection: &'static str, sid: &str) -> Option<String> {
        lock(&self.state.resources)
            .get(collection)
            .and_then(|c| c.get(sid))
            .and_then(|r| r["status"].as_str().map(str::to_owned))
    }
}

fn basic(sid: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{secret}"))
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A Recording as `GET /v1/Recordings` lists it.
pub fn recording(sid: &str, room: &str, status: &str, created: &str, size: u64) -> Value {
    json!({
        "account_sid": "AC00000000000000000000000000000001",
        "status": status,
        "date_created": created,
        "sid": sid,
        "source_sid": "MT00000000000000000000000000000001",
        "size": size,
        "type": "audio",
        "duration": 10,
        "container_format": "mka",
        "codec": "opus",
        "grouping_sids": {"room_sid": room, "participant_sid": "PA00000000000000000000000000000001"},
        "track_name": "microphone",
        "offset": 0,
        "media_external_location": null,
        "status_callback": null,
        "status_callback_method": "POST",
        "url": format!("{TWILIO}/v1/Recordings/{sid}"),
        "links": {"media": format!("{TWILIO}/v1/Recordings/{sid}/Media")}
    })
}

/// A Composition as `GET /v1/Compositions` lists it.
pub fn composition(sid: &str, room: &str, status: &str, created: &str, size: u64) -> Value {
    json!({
        "account_sid": "AC00000000000000000000000000000001",
        "status": status,
        "date_created": created,
        "date_completed": created,
        "date_deleted": null,
        "sid": sid,
        "room_sid": room,
        "audio_sources": ["*"],
        "audio_sources_excluded": [],
        "video_layout": {},
        "resolution": "1280x720",
        "trim": true,
        "format": "mp4",
        "bitrate": 64,
        "size": size,
        "duration": 10,
        "media_external_location": null,
        "status_callback": null,
        "status_callback_method": "POST",
        "url": format!("{TWILIO}/v1/Compositions/{sid}"),
        "links": {"media": format!("{TWILIO}/v1/Compositions/{sid}/Media")}
    })
}

/// A Room as `GET /v1/Rooms` lists it; `status_callback` as set when the room was created.
pub fn room(
    sid: &str,
    unique_name: &str,
    status: &str,
    created: &str,
    status_callback: Option<&str>,
) -> Value {
    json!({
        "sid": sid,
        "status": status,
        "date_created": created,
        "date_updated": created,
        "account_sid": "AC00000000000000000000000000000001",
        "enable_turn": true,
        "unique_name": unique_name,
        "status_callback": status_callback,
        "status_callback_method": "POST",
        "end_time": if status == "in-progress" { Value::Null } else { Value::from(created) },
        "duration": if status == "in-progress" { Value::Null } else { Value::from(60) },
        "type": "group",
        "max_participants": 50,
        "max_participant_duration": 14400,
        "max_concurrent_published_tracks": 170,
        "record_participants_on_connect": false,
        "video_codecs": ["VP8"],
        "media_region": "us1",
        "audio_only": false,
        "empty_room_timeout": 5,
        "unused_room_timeout": 5,
        "large_room": false,
        "url": format!("{TWILIO}/v1/Rooms/{sid}"),
        "links": {
            "participants": format!("{TWILIO}/v1/Rooms/{sid}/Participants"),
            "recordings": format!("{TWILIO}/v1/Rooms/{sid}/Recordings")
        }
    })
}

pub async fn start(throttle_every: usize) -> FakeRest {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|err| panic!("{err}"))
    );
    let state = Arc::new(RestState {
        throttle_every,
        ..RestState::default()
    });
    let served = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = served.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| route(request, state.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FakeRest { url, state }
}

fn answer(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|err| panic!("{err}"))
}

fn error(status: u16, code: u32, message: &str) -> Response<Full<Bytes>> {
    answer(
        status,
        json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}),
    )
}

async fn route(
    request: Request<Incoming>,
    state: Arc<RestState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    lock(&state.arrivals).push(std::time::Instant::now());
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let account: Option<String> = {
        let keys = lock(&state.keys);
        if keys.is_empty() {
            if given != basic(KEY_SID, KEY_SECRET) {
                return Ok(error(401, 20003, "Authenticate"));
            }
            None
        } else {
            match keys.get(given) {
                Some(account) => Some(account.clone()),
                None => return Ok(error(401, 20003, "Authenticate")),
            }
        }
    };
    let of_account = |r: &Value| {
        account
            .as_deref()
            .is_none_or(|a| r["account_sid"].as_str() == Some(a))
    };
    if state.throttle_every > 0 && n % state.throttle_every == 0 {
        state.throttled.fetch_add(1, Ordering::SeqCst);
        let mut response = error(429, 20429, "Too Many Requests");
        let with_retry_after = {
            let mut by_method = state
                .retry_after_by_method
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let given = by_method
                .entry(request.method().as_str().to_owned())
                .or_default();
            *given += 1;
            *given <= 2
        };
        if with_retry_after {
            state
                .throttled_with_retry_after
                .fetch_add(1, Ordering::SeqCst);
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        }
        return Ok(response);
    }
    let path = request.uri().path().to_owned();
    let query: BTreeMap<String, String> = request
        .uri()
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let collection: &'static str = match segments.get(1) {
        Some(&"Recordings") => "Recordings",
        Some(&"Compositions") => "Compositions",
        Some(&"Rooms") => "Rooms",
        _ => return Ok(error(404, 20404, "The requested resource was not found")),
    };
    match (request.method(), segments.len()) {
        (&Method::GET, 2) => Ok(list(&state, collection, &query, &of_account)),
        (&Method::DELETE, 3) => {
            let sid = segments[2];
            let mut resources = lock(&state.resources);
            match resources.get_mut(collection).and_then(|c| c.get_mut(sid)) {
                Some(resource) if resource["status"] != "deleted" && of_account(resource) => {
                    resource["status"] = "deleted".into();
                    lock(&state.deleted).push(sid.to_owned());
                    Ok(Response::builder()
                        .status(204)
                        .body(Full::new(Bytes::new()))
                        .unwrap_or_else(|err| panic!("{err}")))
                }
                _ => Ok(error(404, 20404, "The requested resource was not found")),
            }
        }
        _ => Ok(error(405, 20004, "Method not allowed")),
    }
}

fn list(
    state: &RestState,
    collection: &'static str,
    query: &BTreeMap<String, String>,
    of_account: &dyn Fn(&Value) -> bool,
) -> Response<Full<Bytes>> {
    let max_page_size = if collection == "Rooms" { 1000 } else { 100 };
    let page_size: u32 = match query.get("PageSize").map(|s| s.parse::<u32>()) {
        None => 50,
        Some(Ok(size)) if (1..=max_page_size).contains(&size) => size,
        Some(_) => {
            return error(
                400,
                20001,
                &format!("PageSize must be between 1 and {max_page_size}"),
            )
        }
    };
    lock(&state.page_sizes).push(page_size);
    let page: usize = query.get("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
    // Rooms: Twilio lists only in-progress rooms when no Status is given.
    let wanted_status = query
        .get("Status")
        .cloned()
        .or_else(|| (collection == "Rooms").then(|| "in-progress".to_owned()));
    let after = query.get("DateCreatedAfter").cloned();
    let before = query.get("DateCreatedBefore").cloned();
    let resources = lock(&state.resources);
    let matching: Vec<&Value> = resources
        .get(collection)
        .into_iter()
        .flat_map(|c| c.values())
        .filter(|r| of_account(r))
        .filter(|r| {
            let status = r["status"].as_str().unwrap_or_default();
            match &wanted_status {
                Some(wanted) => status == wanted,
                None => status != "deleted",
            }
        })
        .filter(|r| {
            let created = r["date_created"].as_str().unwrap_or_default();
            after.as_deref().is_none_or(|a| created >= a)
                && before.as_deref().is_none_or(|b| created < b)
        })
        .collect();
    let size = page_size as usize;
    let items: Vec<Value> = matching
        .iter()
        .skip(page * size)
        .take(size)
        .map(|r| (*r).clone())
        .collect();
    let base_query = |page: usize| {
        let mut q: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| *k != "Page" && *k != "PageToken")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.push(("Page".into(), page.to_string()));
        q.push(("PageToken".into(), format!("PT{page}")));
        format!(
            "{TWILIO}/v1/{collection}?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    };
    let has_next = matching.len() > (page + 1) * size;
    let key = collection.to_lowercase();
    answer(
        200,
        json!({
            key.clone(): items,
            "meta": {
                "page": page,
                "page_size": page_size,
                "first_page_url": base_query(0),
                "previous_page_url": if page > 0 { Value::from(base_query(page - 1)) } else { Value::Null },
                "url": base_query(page),
                "next_page_url": if has_next { Value::from(base_query(page + 1)) } else { Value::Null },
                "key": key,
            }
        }),
    )
}
