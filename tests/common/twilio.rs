//! Playing Twilio: many distinct, correctly signed callbacks built from the sample events, and
//! concurrent (re)delivery of them through the real Lambda edge and handler.

use std::sync::Arc;

use lambda_http::request::LambdaRequest;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use twilio_video_callbacks::callback::{EventKind, Params};
use twilio_video_callbacks::lambda;

use super::{event_samples, sample_params, AwsReceiver, TOKEN};

const DOMAIN: &str = "abc123defg.execute-api.us-east-1.amazonaws.com";
const PATH: &str = "/twilio/video";

/// One distinct callback: its parameters, in the order Twilio sends them.
#[derive(Debug, Clone)]
pub struct Callback {
    pub params: Vec<(String, String)>,
}

impl Callback {
    pub fn is_media(&self) -> bool {
        self.event().is_media()
    }

    pub fn event(&self) -> EventKind {
        EventKind::from(self.get("StatusCallbackEvent"))
    }

    pub fn get(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    pub fn idempotency_key(&self) -> String {
        twilio_video_callbacks::item::idempotency_key(&Params::new(self.params.clone()))
    }

    /// The API Gateway (HTTP API) event Twilio's POST becomes, signed with the test token.
    pub fn event_json(&self) -> LambdaRequest {
        use base64::Engine as _;
        let url = format!("https://{DOMAIN}{PATH}");
        let signature = twilio_video_callbacks::signature::compute(TOKEN, &url, &self.params);
        let body = serde_urlencoded::to_string(&self.params).unwrap_or_else(|err| panic!("{err}"));
        let json = serde_json::json!({
            "version": "2.0", "routeKey": "POST /twilio/video", "rawPath": PATH, "rawQueryString": "",
            "headers": {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123defg", "domainName": DOMAIN, "domainPrefix": "abc123defg",
                "http": {"method": "POST", "path": PATH, "protocol": "HTTP/1.1", "sourceIp": "54.172.60.1", "userAgent": "TwilioProxy/1.1"},
                "requestId": "load", "routeKey": "POST /twilio/video", "stage": "$default",
                "time": "27/Nov/2026:09:00:00 +0000", "timeEpoch": 0
            },
            "body": base64::engine::general_purpose::STANDARD.encode(body),
            "isBase64Encoded": true
        });
        serde_json::from_value(json).unwrap_or_else(|err| panic!("{err}"))
    }
}

/// `rooms` rooms' worth of callbacks: each room's 17 events with its own SIDs, and its track events
/// three times over (tracks are paused and resumed more than rooms are created): 25 per room.
pub fn callbacks(rooms: usize) -> Vec<Callback> {
    let samples: Vec<Vec<(String, String)>> = event_samples()
        .iter()
        .map(|(_, json)| sample_params(json))
        .collect();
    let zeros = "0".repeat(31);
    let mut all = Vec::with_capacity(rooms * 25);
    for room in 0..rooms {
        let tag = format!("{:031x}", room + 1);
        for sample in &samples {
            let is_track = sample
                .iter()
                .any(|(k, v)| k == "StatusCallbackEvent" && v.starts_with("track-"));
            for variant in 0..if is_track { 3 } else { 1 } {
                let params = sample
                    .iter()
                    .map(|(k, v)| {
                        let v = v.replace(&zeros, &tag);
                        if k == "Timestamp" && variant > 0 {
                            (
                                k.clone(),
                                format!("2026-11-27T10:{:02}:{:02}.000Z", variant, room % 60),
                            )
                        } else {
                            (k.clone(), v)
                        }
                    })
                    .collect();
                all.push(Callback { params });
            }
        }
    }
    all
}

/// Delivers `which` callbacks with `in_flight` at once; returns each one's HTTP status, in order.
pub async fn deliver(
    receiver: &Arc<AwsReceiver>,
    callbacks: &Arc<Vec<Callback>>,
    which: &[usize],
    in_flight: usize,
) -> Vec<(usize, u16)> {
    let permits = Arc::new(Semaphore::new(in_flight));
    let mut tasks = JoinSet::new();
    for &index in which {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let (receiver, callbacks) = (receiver.clone(), callbacks.clone());
        tasks.spawn(async move {
            let event = callbacks[index].event_json();
            let response = lambda::invoke(&receiver, event, Default::default()).await;
            drop(permit);
            (index, response.status())
        });
    }
    let mut statuses = Vec::with_capacity(which.len());
    while let Some(result) = tasks.join_next().await {
        statuses.push(result.unwrap_or_else(|err| panic!("a delivery panicked: {err}")));
    }
    statuses.sort_unstable();
    statuses
}

/// Resident memory of this process, in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
