//! The operator's three jobs over a date range of Twilio's media: `backfill` (queue every completed
//! recording and composition for the archiver), `reconcile` (is each one in the archive bucket with
//! Twilio's size?) and `prune` (delete at Twilio what the archive safely holds).

use std::collections::{BTreeMap, HashSet};

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::operator::catalog::{Kind, MediaFile};
use crate::operator::rest::{Created, Cursor, RestError, TwilioRest};

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

pub(crate) fn aws<E: std::error::Error + 'static>(
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
    pub(crate) fn tick(&self, what: &str, n: u64) {
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
pub(crate) struct Listing<'a> {
    created: &'a Created,
    kinds: std::slice::Iter<'static, Kind>,
    current: Option<(Kind, Cursor)>,
    pub(crate) roomless: usize,
}

impl<'a> Listing<'a> {
    pub(crate) fn new(created: &'a Created, what: What) -> Self {
        Listing {
            created,
            kinds: what.kinds().iter(),
            current: None,
            roomless: 0,
        }
    }

    pub(crate) async fn next(
        &mut self,
        ctx: &Context,
    ) -> Result<Option<Vec<MediaFile>>, OperatorError> {
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
    /// The account listed (absent when the key's account is not known: one key, no
    /// `TWILIO_ACCOUNT_SID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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
        account: ctx.account_sid.clone(),
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
pub(crate) async fn send_batches(
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

pub use crate::operator::audit::{prune, reconcile, NotArchived, PruneReport, ReconcileReport};
