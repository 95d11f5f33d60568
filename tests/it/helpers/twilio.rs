//! Playing Twilio: many distinct, correctly signed callbacks built from the sample events, and
//! concurrent (re)delivery of them through the real Lambda edge and handler.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use lambda_http::request::LambdaRequest;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use twilio_video_callbacks::receiver::gateway;
use twilio_video_callbacks::twilio::callback::{EventKind, Params};

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
        twilio_video_callbacks::receiver::item::idempotency_key(&Params::new(self.params.clone()))
    }

    /// The API Gateway (HTTP API) event Twilio's POST becomes, signed with the test token.
    pub fn event_json(&self) -> LambdaRequest {
        use base64::Engine as _;
        let url = format!("https://{DOMAIN}{PATH}");
        let signature =
            twilio_video_callbacks::twilio::signature::compute(TOKEN, &url, &self.params);
        let body = serde_urlencoded::to_string(&self.params).unwrap_or_else(|err| panic!("{err}"));
        let headers = [
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("x-twilio-signature".to_owned(), signature),
        ];
        let json = super::http_api_event(
            DOMAIN,
            PATH,
            "POST",
            &headers,
            &base64::engine::general_purpose::STANDARD.encode(body),
            true,
        );
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
            let response = gateway::invoke(&receiver, event, Default::default()).await;
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

/// What playing Twilio's deliveries got.
#[derive(Debug, Default)]
pub struct Played {
    /// Callbacks that got a 2xx at some delivery.
    pub acknowledged: HashSet<usize>,
    /// Every answer, by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Deliveries made of the ones that needed the most.
    pub rounds: usize,
    /// Deliveries made in all.
    pub deliveries: usize,
}

/// Plays Twilio with retries configured for 5xx: delivers `which`, then delivers again whatever was not
/// acknowledged, up to `rounds` deliveries of each. Anything but a 2xx or a 5xx fails the test.
pub async fn play_with_redelivery(
    receiver: &Arc<AwsReceiver>,
    callbacks: &Arc<Vec<Callback>>,
    which: &[usize],
    in_flight: usize,
    rounds: usize,
) -> Played {
    let mut played = Played::default();
    let mut pending: Vec<usize> = which.to_vec();
    while !pending.is_empty() && played.rounds < rounds {
        played.rounds += 1;
        for (index, status) in deliver(receiver, callbacks, &pending, in_flight).await {
            played.deliveries += 1;
            *played.statuses.entry(status).or_default() += 1;
            assert!(
                (200..300).contains(&status) || status >= 500,
                "callback {index}: unexpected {status}"
            );
            if (200..300).contains(&status) {
                played.acknowledged.insert(index);
            }
        }
        pending.retain(|index| !played.acknowledged.contains(index));
    }
    played
}
