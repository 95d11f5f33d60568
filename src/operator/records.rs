//! The archiver's outcome records as the operator reads them: a room's `media-archived` records (what
//! `reconcile` and `prune` trust), one media's record by its SID (what `decrypt RT…` reads), and the
//! `media-deleted-at-twilio` record `prune --delete` writes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::archiver::rules::ArchiveRecord;
use crate::operator::catalog::MediaFile;
use crate::operator::tasks::OperatorError;
use crate::twilio::timestamp;

/// The `event` of the archiver's success record.
const ARCHIVED: &str = "media-archived";

/// What a `media-archived` record says of its media.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Archived {
    /// `s3://bucket/key`, when the record names one.
    pub s3_uri: Option<String>,
    /// Twilio served the media encrypted: the archived object must keep its envelope.
    pub encrypted: bool,
}

fn dynamodb_error<E: std::error::Error + 'static>(
    service: &'static str,
) -> impl Fn(
    aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> OperatorError {
    move |err| OperatorError::Aws {
        service,
        detail: aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
    }
}

fn archived(item: &HashMap<String, AttributeValue>) -> Option<(String, Archived)> {
    let AttributeValue::S(sid) = item.get("media_sid")? else {
        return None;
    };
    let s3_uri = match item.get("s3_uri") {
        Some(AttributeValue::S(uri)) => Some(uri.clone()),
        _ => None,
    };
    let encrypted = matches!(item.get("encrypted"), Some(AttributeValue::Bool(true)));
    Some((sid.clone(), Archived { s3_uri, encrypted }))
}

/// The `media-archived` records in `room`'s timeline, by media SID (one Query of the room's partition,
/// paged).
pub async fn archived_in(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    room: &str,
) -> Result<HashMap<String, Archived>, OperatorError> {
    let mut records = HashMap::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = dynamodb
            .query()
            .table_name(table)
            .key_condition_expression("pk = :room")
            .filter_expression("#event = :archived")
            .expression_attribute_names("#event", "event")
            .expression_attribute_values(":room", AttributeValue::S(room.to_owned()))
            .expression_attribute_values(":archived", AttributeValue::S(ARCHIVED.into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(dynamodb_error("DynamoDB Query"))?;
        records.extend(page.items().iter().filter_map(archived));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(records);
        }
    }
}

/// The `media-archived` record of `sid`: with `room`, one Query of that room's partition; without, a
/// paged Scan of the table (the table has no index by media SID, and the rooms index's media entries
/// are keyed by callback, not by SID), stopping at the first match.
pub async fn find_archived(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    sid: &str,
    room: Option<&str>,
) -> Result<Option<Archived>, OperatorError> {
    if let Some(room) = room {
        return Ok(archived_in(dynamodb, table, room).await?.remove(sid));
    }
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .filter_expression("media_sid = :sid AND #event = :archived")
            .projection_expression("media_sid, s3_uri, encrypted")
            .expression_attribute_names("#event", "event")
            .expression_attribute_values(":sid", AttributeValue::S(sid.to_owned()))
            .expression_attribute_values(":archived", AttributeValue::S(ARCHIVED.into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(dynamodb_error("DynamoDB Scan"))?;
        if let Some((_, found)) = page.items().iter().find_map(archived) {
            return Ok(Some(found));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(None);
        }
    }
}

/// Writes the `media-deleted-at-twilio` item in the room's timeline.
pub async fn record_deletion(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    file: &MediaFile,
    s3_uri: &str,
    size: u64,
) -> Result<(), OperatorError> {
    let now = timestamp::format(OffsetDateTime::now_utc());
    let mut record = ArchiveRecord::failed(&file.message, "", &now);
    record.event = "media-deleted-at-twilio".into();
    record.sk = format!("{now}#media-deleted-at-twilio#{}", file.sid());
    record.reason = None;
    record.s3_uri = Some(s3_uri.to_owned());
    record.size = Some(size);
    let item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&record).map_err(|err| OperatorError::Aws {
            service: "DynamoDB PutItem",
            detail: err.to_string(),
        })?;
    dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(dynamodb_error("DynamoDB PutItem"))?;
    Ok(())
}
