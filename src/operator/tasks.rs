//! The operator's three jobs over a date range of Twilio's media: `backfill` (queue every completed
//! recording and composition for the archiver), `reconcile` (is each one in the archive bucket with
//! Twilio's size?) and `prune` (delete at Twilio what the archive safely holds).

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use time::OffsetDateTime;

use crate::archiver::rules::ArchiveRecord;
use crate::operator::catalog::{Kind, MediaFile};
use crate::operator::rest::{Created, Cursor, RestError, TwilioRest};
use crate::twilio::timestamp;

/// Why a job could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Twilio's API failed.
    #[error(transparent)]
    Twilio(#[from] RestError),
    /// A setting the job needs is missing.
    #[error("{0} is not set: pass it as an option, set its environment variable, or use --stack")]
    Missing(&'static str),
    /// An AWS call failed.
    #[error("{service} failed: {detail}")]
    Aws {
        /// Which service and call.
        service: &'static str,
        /// What the SDK reported.
        detail: String,
    },
}

fn aws<E: std::error::Error + 'static>(
    service: &'static str,
) -> impl Fn(aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>) -> OperatorError
{
    move |err| OperatorError::Aws {
        service,
        detail: aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
    }
}

/// Which media a job covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// Recordings only.
    Recordings,
    /// Compositions only.
    Compositions,
    /// Both.
    All,
}

impl What {
    fn kinds(self) -> &'static [Kind] {
        match self {
            What::Recordings => &[Kind::Recording],
            What::Compositions => &[Kind::Composition],
            What::All => &[Kind::Recording, Kind::Composition],
        }
    }
}

/// The clients and names a job uses; what a job does not need may be absent.
pub struct Context {
    /// Twilio's Video API.
    pub twilio: TwilioRest,
    /// The media queue (`MEDIA_QUEUE_URL`).
    pub queue: Option<(aws_sdk_sqs::Client, String)>,
    /// The archive bucket (`ARCHIVE_BUCKET`).
    pub bucket: Option<(aws_sdk_s3::Client, String)>,
    /// `ARCHIVE_PREFIX`.
    pub prefix: String,
    /// The events table (`EVENTS_TABLE`).
    pub table: Option<(aws_sdk_dynamodb::Client, String)>,
    /// `TWILIO_ACCOUNT_SID`: when set, media of other accounts (subaccounts) is left out.
    pub account_sid: Option<String>,
    /// Progress on stderr (hidden when stderr is not a terminal).
    pub progress: ProgressBar,
}

impl Context {
    fn tick(&self, what: &str, n: u64) {
        self.progress.inc(n);
        self.progress.set_message(what.to_owned());
    }
}

/// A spinner counting files, drawn only when stderr is a terminal.
pub fn progress() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} files {msg} ({per_sec})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Every completed file of `what` created in `created`, a page at a time (a whole account is never in
/// memory). Files that name no room are counted in `roomless`, not returned.
struct Listing<'a> {
    created: &'a Created,
    kinds: std::slice::Iter<'static, Kind>,
    current: Option<(Kind, Cursor)>,
    roomless: usize,
}

impl<'a> Listing<'a> {
    fn new(created: &'a Created, what: What) -> Self {
        Listing {
            created,
            kinds: what.kinds().iter(),
            current: None,
            roomless: 0,
        }
    }

    async fn next(&mut self, ctx: &Context) -> Result<Option<Vec<MediaFile>>, OperatorError> {
        loop {
            let (kind, cursor) = match &mut self.current {
                Some((kind, cursor)) if !cursor.done() => (*kind, cursor),
                _ => {
                    let Some(kind) = self.kinds.next() else {
                        return Ok(None);
                    };
                    let cursor = match kind {
                        Kind::Recording => ctx.twilio.recordings(self.created),
                        Kind::Composition => ctx.twilio.compositions(self.created),
                    };
                    self.current = Some((*kind, cursor));
                    continue;
                }
            };
            let (n, files) = match kind {
                Kind::Recording => {
                    let page = ctx.twilio.next_recordings(cursor).await?;
                    let n = page.len();
                    (
                        n,
                        page.into_iter()
                            .filter_map(MediaFile::from_recording)
                            .collect::<Vec<_>>(),
                    )
                }
                Kind::Composition => {
                    let page = ctx.twilio.next_compositions(cursor).await?;
                    let n = page.len();
                    (
                        n,
                        page.into_iter()
                            .filter_map(MediaFile::from_composition)
                            .collect(),
                    )
                }
            };
            self.roomless += n - files.len();
            let files = match &ctx.account_sid {
                Some(account) => files
                    .into_iter()
                    .filter(|file| &file.message.account_sid == account)
                    .collect(),
                None => files,
            };
            ctx.tick(
                match kind {
                    Kind::Recording => "recordings listed",
                    Kind::Composition => "compositions listed",
                },
                n as u64,
            );
            return Ok(Some(files));
        }
    }
}

/// Per kind: how many listed and how many enqueued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    /// Listed at Twilio (completed, in the range).
    pub listed: usize,
    /// Sent to the media queue.
    pub enqueued: usize,
}

/// What `backfill` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackfillReport {
    /// Completed files listed at Twilio.
    pub listed: usize,
    /// Messages the media queue accepted.
    pub enqueued: usize,
    /// Listed files that name no room (cannot be filed in the archive): not sent.
    pub roomless: usize,
    /// Messages SQS refused after retries (their SIDs are in `failed_sids`).
    pub failed: usize,
    /// `recording` and `composition` counts.
    pub kinds: BTreeMap<Kind, KindCounts>,
    /// Nothing was sent.
    pub dry_run: bool,
    /// What could not be sent.
    pub failed_sids: Vec<String>,
}

/// Lists every completed recording and composition created in `created` and sends each one's media
/// message to the media queue, in batches of ten, as the receiver would have for its callback.
pub async fn backfill(
    ctx: &Context,
    created: &Created,
    what: What,
    dry_run: bool,
) -> Result<BackfillReport, OperatorError> {
    let queue = match (&ctx.queue, dry_run) {
        (Some(queue), _) => Some(queue),
        (None, true) => None,
        (None, false) => return Err(OperatorError::Missing("MEDIA_QUEUE_URL")),
    };
    let mut report = BackfillReport {
        dry_run,
        ..BackfillReport::default()
    };
    let mut listing = Listing::new(created, what);
    while let Some(files) = listing.next(ctx).await? {
        report.listed += files.len();
        for file in &files {
            report.kinds.entry(file.kind).or_default().listed += 1;
        }
        if let (Some((client, url)), false) = (queue, dry_run) {
            let failed = send_batches(client, url, &files).await?;
            for file in &files {
                if failed.contains(file.sid()) {
                    report.failed_sids.push(file.sid().to_owned());
                } else {
                    report.kinds.entry(file.kind).or_default().enqueued += 1;
                    report.enqueued += 1;
                }
            }
            report.failed += failed.len();
        }
    }
    report.roomless = listing.roomless;
    report.listed += report.roomless;
    Ok(report)
}

/// Sends `files`' messages in batches of ten (`SendMessageBatch`), the batches of one call at the same
/// time (a page of a hundred files is ten calls in flight), retrying refused entries twice; returns the
/// SIDs still refused.
async fn send_batches(
    client: &aws_sdk_sqs::Client,
    url: &str,
    files: &[MediaFile],
) -> Result<HashSet<String>, OperatorError> {
    let mut sends = tokio::task::JoinSet::new();
    for chunk in files.chunks(10) {
        let (client, url, chunk) = (client.clone(), url.to_owned(), chunk.to_vec());
        sends.spawn(async move { send_batch(&client, &url, &chunk).await });
    }
    let mut refused = HashSet::new();
    while let Some(sent) = sends.join_next().await {
        let sent = sent.map_err(|err| OperatorError::Aws {
            service: "SQS SendMessageBatch",
            detail: err.to_string(),
        })?;
        refused.extend(sent?);
    }
    Ok(refused)
}

/// One `SendMessageBatch` of at most ten files, retrying refused entries twice.
async fn send_batch(
    client: &aws_sdk_sqs::Client,
    url: &str,
    chunk: &[MediaFile],
) -> Result<Vec<String>, OperatorError> {
    let fifo = url.ends_with(".fifo");
    let mut pending: Vec<(usize, &MediaFile)> = chunk.iter().enumerate().collect();
    for _ in 0..3 {
        if pending.is_empty() {
            break;
        }
        let mut entries = Vec::with_capacity(pending.len());
        for (n, file) in &pending {
            let body = serde_json::to_string(&file.message).map_err(|err| OperatorError::Aws {
                service: "SQS SendMessageBatch",
                detail: err.to_string(),
            })?;
            let event = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(&file.message.event)
                .build()
                .map_err(|err| OperatorError::Aws {
                    service: "SQS SendMessageBatch",
                    detail: err.to_string(),
                })?;
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(n.to_string())
                .message_body(body)
                .message_attributes("event", event);
            if fifo {
                entry = entry
                    .message_group_id(file.message.group_id())
                    .message_deduplication_id(&file.message.idempotency_key);
            }
            entries.push(entry.build().map_err(|err| OperatorError::Aws {
                service: "SQS SendMessageBatch",
                detail: err.to_string(),
            })?);
        }
        let output = client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(aws("SQS SendMessageBatch"))?;
        let failed: HashSet<&str> = output.failed().iter().map(|f| f.id()).collect();
        pending.retain(|(n, _)| failed.contains(n.to_string().as_str()));
    }
    Ok(pending
        .iter()
        .map(|(_, file)| file.sid().to_owned())
        .collect())
}

/// Why a file is not safely in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotArchived {
    /// Recording or composition SID.
    pub sid: String,
    /// Which kind.
    pub kind: Kind,
    /// `missing` or `size_mismatch`.
    pub reason: &'static str,
    /// Twilio's size.
    pub twilio_size: Option<u64>,
    /// The archived object's size, when there is one.
    pub archived_size: Option<u64>,
}

/// What `reconcile` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Completed files at Twilio in the range (with a room).
    pub total: usize,
    /// In the bucket at their key with Twilio's size.
    pub archived: usize,
    /// Not in the bucket.
    pub missing: usize,
    /// In the bucket with another size.
    pub size_mismatch: usize,
    /// Stored by Twilio in the customer's own storage: nothing to archive.
    pub external: usize,
    /// Listed files that name no room.
    pub roomless: usize,
    /// Missing or mismatched files.
    pub not_archived: Vec<NotArchived>,
    /// Messages sent for them (`--enqueue-missing`).
    pub enqueued: usize,
    /// Archived files (for `prune`; not in the JSON).
    #[serde(skip)]
    pub archived_files: Vec<(MediaFile, String, u64)>,
}

/// Checks every completed file in the range against the archive bucket (a `HeadObject` at its key,
/// then a listing of its stem for an object the archiver named otherwise); with `enqueue_missing`,
/// sends messages for exactly the files that are not archived.
pub async fn reconcile(
    ctx: &Context,
    created: &Created,
    enqueue_missing: bool,
) -> Result<ReconcileReport, OperatorError> {
    let (s3, bucket) = ctx
        .bucket
        .as_ref()
        .ok_or(OperatorError::Missing("ARCHIVE_BUCKET"))?;
    let queue = match (&ctx.queue, enqueue_missing) {
        (Some(queue), true) => Some(queue),
        (None, true) => return Err(OperatorError::Missing("MEDIA_QUEUE_URL")),
        (_, false) => None,
    };
    let mut report = ReconcileReport::default();
    let mut to_enqueue: Vec<MediaFile> = Vec::new();
    let mut listing = Listing::new(created, What::All);
    while let Some(files) = listing.next(ctx).await? {
        let mut checks = tokio::task::JoinSet::new();
        for file in files {
            let (s3, bucket, prefix) = (s3.clone(), bucket.clone(), ctx.prefix.clone());
            checks.spawn(async move {
                let found = archived_object(&s3, &bucket, &prefix, &file).await;
                (file, found)
            });
        }
        while let Some(joined) = checks.join_next().await {
            let (file, found) = joined.map_err(|err| OperatorError::Aws {
                service: "S3",
                detail: err.to_string(),
            })?;
            report.total += 1;
            if file.external().is_some() {
                report.external += 1;
                continue;
            }
            let reason = match found? {
                Some((key, size)) if Some(size) == file.size() => {
                    report.archived += 1;
                    report.archived_files.push((file, key, size));
                    continue;
                }
                Some((_, size)) => {
                    report.size_mismatch += 1;
                    ("size_mismatch", Some(size))
                }
                None => {
                    report.missing += 1;
                    ("missing", None)
                }
            };
            report.not_archived.push(NotArchived {
                sid: file.sid().to_owned(),
                kind: file.kind,
                reason: reason.0,
                twilio_size: file.size(),
                archived_size: reason.1,
            });
            to_enqueue.push(file);
        }
    }
    report.roomless = listing.roomless;
    report.not_archived.sort_by(|a, b| a.sid.cmp(&b.sid));
    if let Some((client, url)) = queue {
        let refused = send_batches(client, url, &to_enqueue).await?;
        report.enqueued = to_enqueue.len() - refused.len();
    }
    Ok(report)
}

/// The archived object of `file`: its key and size, if there is one.
async fn archived_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    file: &MediaFile,
) -> Result<Option<(String, u64)>, OperatorError> {
    let s3_error = |detail: String| OperatorError::Aws {
        service: "S3",
        detail,
    };
    let key = file
        .archive_key(prefix)
        .map_err(|err| s3_error(err.to_string()))?;
    match s3.head_object().bucket(bucket).key(&key).send().await {
        Ok(head) => {
            return Ok(Some((
                key,
                head.content_length().unwrap_or_default().max(0) as u64,
            )))
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(err) => {
            return Err(s3_error(
                aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
            ))
        }
    }
    let stem = file
        .archive_stem(prefix)
        .map_err(|err| s3_error(err.to_string()))?;
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&stem)
        .send()
        .await
        .map_err(|err| s3_error(aws_sdk_s3::error::DisplayErrorContext(err).to_string()))?;
    Ok(listed.contents().first().and_then(|object| {
        Some((
            object.key()?.to_owned(),
            object.size().unwrap_or_default().max(0) as u64,
        ))
    }))
}

/// What `prune` did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Completed files at Twilio in the range.
    pub total: usize,
    /// Safe to delete at Twilio: archived with Twilio's size and a `media-archived` record.
    pub deletable: usize,
    /// Deleted at Twilio now (0 without `--delete`).
    pub deleted: usize,
    /// Kept: not archived, a different size, or no `media-archived` record.
    pub kept: usize,
    /// Kept: stored externally by Twilio.
    pub external: usize,
    /// Deletions Twilio refused (their SIDs in `failed_sids`).
    pub failed: usize,
    /// Whether deletions were made.
    pub delete: bool,
    /// The files deleted, or that `--delete` would delete.
    pub sids: Vec<String>,
    /// What could not be deleted.
    pub failed_sids: Vec<String>,
}

/// Deletes at Twilio (with `delete`) exactly the files `reconcile` finds archived and whose room
/// timeline holds their `media-archived` record; records each deletion in the room's timeline.
pub async fn prune(
    ctx: &Context,
    created: &Created,
    delete: bool,
) -> Result<PruneReport, OperatorError> {
    let (dynamodb, table) = ctx
        .table
        .as_ref()
        .ok_or(OperatorError::Missing("EVENTS_TABLE"))?;
    let reconciled = reconcile(ctx, created, false).await?;
    let mut report = PruneReport {
        total: reconciled.total,
        external: reconciled.external,
        kept: reconciled.missing + reconciled.size_mismatch,
        delete,
        ..PruneReport::default()
    };
    let mut records: HashMap<String, HashSet<String>> = HashMap::new();
    for (file, key, size) in &reconciled.archived_files {
        let room = &file.message.room_sid;
        if !records.contains_key(room) {
            records.insert(room.clone(), archived_in(dynamodb, table, room).await?);
        }
        let recorded = records
            .get(room)
            .is_some_and(|sids| sids.contains(file.sid()));
        if !recorded {
            report.kept += 1;
            continue;
        }
        report.deletable += 1;
        report.sids.push(file.sid().to_owned());
        if !delete {
            continue;
        }
        match ctx.twilio.delete(file.kind.collection(), file.sid()).await {
            Ok(()) => {
                report.deleted += 1;
                let uri = match &ctx.bucket {
                    Some((_, bucket)) => format!("s3://{bucket}/{key}"),
                    None => key.clone(),
                };
                record_deletion(dynamodb, table, file, &uri, *size).await?;
            }
            Err(err) => {
                report.failed += 1;
                report.failed_sids.push(file.sid().to_owned());
                ctx.progress
                    .println(format!("could not delete {}: {err}", file.sid()));
            }
        }
    }
    report.sids.sort();
    Ok(report)
}

/// The media SIDs with a `media-archived` record in `room`'s timeline.
async fn archived_in(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    room: &str,
) -> Result<HashSet<String>, OperatorError> {
    let mut sids = HashSet::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = dynamodb
            .query()
            .table_name(table)
            .key_condition_expression("pk = :room")
            .filter_expression("#event = :archived")
            .expression_attribute_names("#event", "event")
            .expression_attribute_values(":room", AttributeValue::S(room.to_owned()))
            .expression_attribute_values(":archived", AttributeValue::S("media-archived".into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|err| OperatorError::Aws {
                service: "DynamoDB Query",
                detail: aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
            })?;
        for item in page.items() {
            if let Some(AttributeValue::S(sid)) = item.get("media_sid") {
                sids.insert(sid.clone());
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(sids);
        }
    }
}

/// The `media-deleted-at-twilio` item in the room's timeline.
async fn record_deletion(
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
        .map_err(|err| OperatorError::Aws {
            service: "DynamoDB PutItem",
            detail: aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
        })?;
    Ok(())
}
