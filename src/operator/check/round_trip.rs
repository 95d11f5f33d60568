//! Step 1, the round trip: a synthetic `room-created` for a fresh test room, delivered to the callback
//! URL as Twilio would deliver it, read back from the table, delivered again (the duplicate answer), sent
//! with a wrong signature (403); then every item of the test room is removed. No media event is ever
//! sent: the archiver would fetch a file that does not exist.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use time::OffsetDateTime;

use super::signing::SigningKey;
use super::{room_created_params, test_room_sid, Row};
use crate::archiver::media::https_client;
use crate::receiver::item::ROOM_DAY;

/// How long one delivery may take (Twilio gives up after 15 s by default).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the round trip goes.
pub struct Target<'a> {
    /// The URL Twilio calls (without `#...` overrides): where the callback is signed for and sent.
    pub url: &'a str,
    /// The events table's client.
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    /// The events table.
    pub table: &'a str,
    /// How long the item may take to appear (a spilled callback is stored by the spill consumer).
    pub wait: Duration,
}

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// `outcome` of the JSON body (`stored`, `duplicate`, `spilled`, ...), if any.
    pub outcome: Option<String>,
    /// The start of the body, for messages.
    pub body: String,
}

/// Runs the round trip for a fresh room; returns the room's SID and the rows.
pub async fn round_trip(target: &Target<'_>, key: &SigningKey, seed: &[u8]) -> (String, Vec<Row>) {
    let room = test_room_sid(seed);
    let params = room_created_params(&key.account_sid, &room, OffsetDateTime::now_utc());
    let mut rows = deliveries(target, key, &params).await;
    rows.push(cleanup(target, &room).await);
    (room, rows)
}

/// The three deliveries and the read-back, stopping at the first that makes the rest meaningless.
async fn deliveries(
    target: &Target<'_>,
    key: &SigningKey,
    params: &[(String, String)],
) -> Vec<Row> {
    let url = target.url;
    let room = params
        .iter()
        .find(|(name, _)| name == "RoomSid")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    let mut rows = Vec::new();
    let first = match deliver(url, key, params).await {
        Ok(answer) => answer,
        Err(reason) => {
            rows.push(Row::fail(
                "round trip: deliver",
                format!("could not reach the receiver at {url}: {reason}"),
                format!(
                    "is the stack deployed and is this its URL (the stack's CallbackUrl, \
                     CALLBACK_URL)? Try: curl -i -X POST {url}"
                ),
            ));
            return rows;
        }
    };
    let row = first_delivery(url, key, &first);
    let refused = row.status == super::Status::Fail;
    rows.push(row);
    if refused {
        return rows;
    }
    let spilled = first.outcome.as_deref() == Some("spilled");
    rows.push(read_back(target, room, spilled).await);
    rows.push(match spilled {
        // A second delivery would be spilled too, and the spill consumer could store it after the
        // cleanup: the test room would be left behind.
        true => Row::warn(
            "round trip: duplicate",
            "not sent: the first delivery was spilled, and a spilled duplicate could be stored after \
             the cleanup",
            "run check again when the table takes callbacks directly (200 stored)",
        ),
        false => match deliver(url, key, params).await {
            Ok(answer) => duplicate(&answer),
        Err(reason) => Row::fail(
            "round trip: duplicate",
            format!("the second delivery to {url} failed: {reason}"),
            "the receiver answered once and then not: look at its log and the API's throttling",
            ),
        },
    });
    rows.push(match deliver(url, &key.wrong(), params).await {
        Ok(answer) => wrong_signature(&answer),
        Err(reason) => Row::fail(
            "round trip: wrong signature",
            format!("the delivery with a wrong signature to {url} failed: {reason}"),
            "the receiver answered the signed deliveries and then not: look at its log",
        ),
    });
    rows
}

/// The first delivery's row: 200 `stored` is ok, 202 `spilled` a warn, anything else a fail.
pub fn first_delivery(url: &str, key: &SigningKey, answer: &Answer) -> Row {
    const STEP: &str = "round trip: deliver";
    let said = format!("{url} answered {} {}", answer.status, answer.body);
    match (answer.status, answer.outcome.as_deref()) {
        (200, Some("stored")) => Row::ok(STEP, format!("{url} answered 200 stored")),
        (202, Some("spilled")) => Row::warn(
            STEP,
            said,
            "the receiver could not write to the table or the media queue and spilled the callback: \
             look at its log and the table's throttling; the spill consumer stores it later",
        ),
        (403, _) => Row::fail(
            STEP,
            format!(
                "{url} answered 403: the receiver refused the signature made with {} for account {}",
                key.source, key.account_sid
            ),
            "sign with the token the receiver verifies with (TWILIO_AUTH_TOKEN or the SSM parameter the \
             stack names), and call the exact URL it verifies (its TWILIO_WEBHOOK_URL / the stack's \
             WebhookUrl, else the URL Twilio calls): real callbacks are refused the same way",
        ),
        (status, _) if status >= 500 => Row::fail(
            STEP,
            said,
            "the receiver could not store the callback: look at its log (CloudWatch) and the table",
        ),
        _ => Row::fail(
            STEP,
            said,
            "expected 200 stored for a fresh room: is this URL the receiver (CALLBACK_URL)?",
        ),
    }
}

/// The second delivery's row: the duplicate answer is ok.
pub fn duplicate(answer: &Answer) -> Row {
    const STEP: &str = "round trip: duplicate";
    match (answer.status, answer.outcome.as_deref()) {
        (200, Some("duplicate")) => Row::ok(STEP, "the same callback again: 200 duplicate"),
        (202, Some("spilled")) => Row::warn(
            STEP,
            "the same callback again was spilled: its duplicate answer could not be seen",
            "the table is failing or throttled: look at the receiver's log; run check again later",
        ),
        (200, Some("stored")) => Row::fail(
            STEP,
            "the same callback again was stored a second time",
            "redeliveries are not recognised: the table's keys (pk, sk) are not the receiver's; \
             is EVENTS_TABLE the receiver's table?",
        ),
        (status, _) => Row::fail(
            STEP,
            format!("the same callback again: {status} {}", answer.body),
            "Twilio's redeliveries would get this too: look at the receiver's log",
        ),
    }
}

/// The wrong signature's row: 403 is ok.
pub fn wrong_signature(answer: &Answer) -> Row {
    const STEP: &str = "round trip: wrong signature";
    match answer.status {
        403 => Row::ok(STEP, "a wrong signature: 403"),
        status if (200..300).contains(&status) => Row::fail(
            STEP,
            format!("a wrong signature was accepted: {status} {}", answer.body),
            "anyone can write to the table: the receiver does not verify X-Twilio-Signature; \
             redeploy it from this repository",
        ),
        status => Row::fail(
            STEP,
            format!("a wrong signature: {status} {} (expected 403)", answer.body),
            "look at the receiver's log",
        ),
    }
}

/// Waits up to `target.wait` for the test room's `room-created` in the table (consistent reads).
async fn read_back(target: &Target<'_>, room: &str, spilled: bool) -> Row {
    const STEP: &str = "round trip: stored";
    let started = tokio::time::Instant::now();
    loop {
        match partition(target, room).await {
            Ok(items) if !items.is_empty() => {
                let ms = started.elapsed().as_millis();
                let indexed = items.iter().any(|item| item.contains_key(ROOM_DAY));
                return if indexed {
                    Row::ok(
                        STEP,
                        format!(
                            "the room-created is in {} after {ms} ms, indexed",
                            target.table
                        ),
                    )
                } else {
                    Row::warn(
                        STEP,
                        format!(
                            "the room-created is in {} but has no {ROOM_DAY}",
                            target.table
                        ),
                        "the receiver is older than the rooms-by-day index: redeploy it",
                    )
                };
            }
            Ok(_) if started.elapsed() < target.wait => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(_) => {
                let next = if spilled {
                    "the callback is still on the spill queue: the spill consumer cannot store it; \
                     look at the receiver's log and the spill dead-letter queue"
                } else {
                    "the receiver stored it elsewhere: is EVENTS_TABLE (or --table) the receiver's table?"
                };
                return Row::fail(
                    STEP,
                    format!(
                        "the room-created of {room} is not in {} after {} s",
                        target.table,
                        target.wait.as_secs()
                    ),
                    next,
                );
            }
            Err(reason) => return Row::fail(
                STEP,
                format!("could not read {}: {reason}", target.table),
                "check the table's name (EVENTS_TABLE, --table, --stack) and your AWS credentials",
            ),
        }
    }
}

/// Removes every item of the test room's partition (and so its index entries, which are those items'),
/// then reads the partition again: the row says whether anything is left.
async fn cleanup(target: &Target<'_>, room: &str) -> Row {
    const STEP: &str = "round trip: cleanup";
    let removed = async {
        let items = partition(target, room).await?;
        for item in &items {
            let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) else {
                continue;
            };
            target
                .dynamodb
                .delete_item()
                .table_name(target.table)
                .key("pk", pk.clone())
                .key("sk", sk.clone())
                .send()
                .await
                .map_err(|err| aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())?;
        }
        let left = partition(target, room).await?.len();
        Ok::<_, String>((items.len(), left))
    }
    .await;
    match removed {
        Ok((removed, 0)) => Row::ok(
            STEP,
            format!("removed {removed} item(s) of the test room {room}; nothing of it is left"),
        ),
        Ok((_, left)) => Row::fail(
            STEP,
            format!("{left} item(s) of the test room {room} are still in {}", target.table),
            format!("delete the partition pk = {room} by hand"),
        ),
        Err(reason) => Row::fail(
            STEP,
            format!("could not remove the test room {room}: {reason}"),
            format!(
                "delete the partition pk = {room} of {} by hand (it may hold the test's room-created)",
                target.table
            ),
        ),
    }
}

/// Every item (keys and index attribute) of `room`'s partition, read consistently.
async fn partition(
    target: &Target<'_>,
    room: &str,
) -> Result<Vec<HashMap<String, AttributeValue>>, String> {
    let mut items = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = target
            .dynamodb
            .query()
            .table_name(target.table)
            .consistent_read(true)
            .key_condition_expression("pk = :room")
            .expression_attribute_values(":room", AttributeValue::S(room.to_owned()))
            .projection_expression("pk, sk, #day")
            .expression_attribute_names("#day", ROOM_DAY)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|err| aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())?;
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// POSTs `params` to `url` signed with `key`, as Twilio does; the answer, or why there was none.
pub async fn deliver(
    url: &str,
    key: &SigningKey,
    params: &[(String, String)],
) -> Result<Answer, String> {
    let body = serde_urlencoded::to_string(params).map_err(|err| err.to_string())?;
    let mut request = Request::post(url)
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(
            hyper::header::USER_AGENT,
            "TwilioProxy/1.1 (twilio-video-callbacks check)",
        );
    for (name, value) in key.headers(url, params) {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|err| format!("not a URL: {err}"))?;
    let client = https_client::<Full<Bytes>>().map_err(|err| err.to_string())?;
    let response = tokio::time::timeout(DELIVERY_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs()))?
        .map_err(|err| describe_transport(&err))?;
    let status = response.status().as_u16();
    let bytes = tokio::time::timeout(DELIVERY_TIMEOUT, response.into_body().collect())
        .await
        .map_err(|_| "the answer's body did not arrive".to_owned())?
        .map_err(|err| err.to_string())?
        .to_bytes();
    let text: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
    let outcome = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|json| json.get("outcome")?.as_str().map(str::to_owned));
    Ok(Answer {
        status,
        outcome,
        body: text,
    })
}

/// A client error with its causes (hyper's own message is only "client error (Connect)").
fn describe_transport(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::check::Status;

    fn answer(status: u16, outcome: Option<&str>) -> Answer {
        Answer {
            status,
            outcome: outcome.map(str::to_owned),
            body: String::new(),
        }
    }

    #[test]
    fn the_first_delivery_is_ok_stored_warn_spilled_and_fails_otherwise() {
        let key = SigningKey::auth_token("AC1", "t", "the auth token in TWILIO_AUTH_TOKEN");
        let status = |a| first_delivery("https://x/y", &key, &a).status;
        assert_eq!(status(answer(200, Some("stored"))), Status::Ok);
        assert_eq!(status(answer(202, Some("spilled"))), Status::Warn);
        assert_eq!(status(answer(200, Some("duplicate"))), Status::Fail);
        assert_eq!(status(answer(503, None)), Status::Fail);
        let refused = first_delivery("https://x/y", &key, &answer(403, None));
        assert_eq!(refused.status, Status::Fail);
        assert!(refused.detail.contains("403"), "{}", refused.detail);
        assert!(
            refused.detail.contains("TWILIO_AUTH_TOKEN"),
            "{}",
            refused.detail
        );
    }

    #[test]
    fn the_second_delivery_must_be_a_duplicate_and_the_forgery_a_403() {
        assert_eq!(
            duplicate(&answer(200, Some("duplicate"))).status,
            Status::Ok
        );
        assert_eq!(
            duplicate(&answer(202, Some("spilled"))).status,
            Status::Warn
        );
        assert_eq!(duplicate(&answer(200, Some("stored"))).status, Status::Fail);
        assert_eq!(wrong_signature(&answer(403, None)).status, Status::Ok);
        assert_eq!(
            wrong_signature(&answer(200, Some("duplicate"))).status,
            Status::Fail
        );
        assert_eq!(wrong_signature(&answer(500, None)).status, Status::Fail);
    }
}
