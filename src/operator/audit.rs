//! `reconcile` (is each completed file of a range in the archive bucket, whole, and, when Twilio served
//! it encrypted, with its envelope?) and `prune` (delete at Twilio what the archive safely holds).
//!
//! Twilio's Video Recording and Composition resources say nothing of encryption (the account's
//! `RecordingSettings`/`CompositionSettings` do, not the file): a file is known to be encrypted by its
//! archived object's envelope metadata, by its `media-archived` record (`encrypted: true`), or by half an
//! envelope on the object. An encrypted file whose object lacks a complete envelope can never be
//! decrypted from the archive: it is `envelope_missing`, and Twilio's copy is never pruned.

use std::collections::HashMap;

use serde::Serialize;

use crate::operator::catalog::{Kind, MediaFile};
use crate::operator::records::{self, Archived};
use crate::operator::rest::Created;
use crate::operator::tasks::{send_batches, Context, Listing, OperatorError, What};
use crate::twilio::envelope::{self, Envelope};

/// Why a file is not safely in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotArchived {
    /// Recording or composition SID.
    pub sid: String,
    /// Which kind.
    pub kind: Kind,
    /// `missing`, `size_mismatch` or `envelope_missing`.
    pub reason: &'static str,
    /// Twilio's size.
    pub twilio_size: Option<u64>,
    /// The archived object's size, when there is one.
    pub archived_size: Option<u64>,
}

/// The encryption envelope on an archived object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeState {
    /// No envelope metadata: a plain object.
    None,
    /// The wrapped key and the IV, usable.
    Complete,
    /// Half an envelope, or an unusable one: the file cannot be decrypted.
    Broken,
}

/// An archived file `reconcile` found whole (for `prune`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedFile {
    /// The file at Twilio.
    pub file: MediaFile,
    /// Its object key.
    pub key: String,
    /// The object's size.
    pub size: u64,
    /// Its `media-archived` record is in the room's timeline (always false without a table).
    pub recorded: bool,
}

/// What `reconcile` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// The account listed (absent when the key's account is not known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Completed files at Twilio in the range (with a room).
    pub total: usize,
    /// In the bucket at their key with Twilio's size (an encrypted one: or its AES-CBC padded length),
    /// and with a complete envelope when encrypted.
    pub archived: usize,
    /// Of `archived`: encrypted objects (with their envelope).
    pub encrypted: usize,
    /// Not in the bucket.
    pub missing: usize,
    /// In the bucket with another size.
    pub size_mismatch: usize,
    /// Encrypted (by its record, or half an envelope on the object) but the object lacks a complete
    /// envelope: it can never be decrypted from the archive.
    pub envelope_missing: usize,
    /// Stored by Twilio in the customer's own storage: nothing to archive.
    pub external: usize,
    /// Listed files that name no room.
    pub roomless: usize,
    /// Missing, mismatched or envelope-less files.
    pub not_archived: Vec<NotArchived>,
    /// Messages sent for them (`--enqueue-missing`).
    pub enqueued: usize,
    /// Archived files (for `prune`; not in the JSON).
    #[serde(skip)]
    pub archived_files: Vec<ArchivedFile>,
}

impl ReconcileReport {
    /// Every file in range is archived whole (external ones aside).
    pub fn complete(&self) -> bool {
        self.missing == 0 && self.size_mismatch == 0 && self.envelope_missing == 0
    }
}

/// An archived object as `HeadObject` sees it.
struct Found {
    key: String,
    size: u64,
    envelope: EnvelopeState,
}

/// Checks every completed file in the range against the archive bucket (a `HeadObject` at its key,
/// then a listing of its stem for an object the archiver named otherwise) and, when the events table is
/// named, against its room's `media-archived` records; with `enqueue_missing`, sends messages for
/// exactly the files that are not archived.
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
    let mut report = ReconcileReport {
        account: ctx.account_sid.clone(),
        ..ReconcileReport::default()
    };
    let mut rooms: HashMap<String, HashMap<String, Archived>> = HashMap::new();
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
            let record = match (&ctx.table, found.as_ref()) {
                (Some((dynamodb, table)), Ok(Some(_))) => {
                    let room = &file.message.room_sid;
                    if !rooms.contains_key(room) {
                        let read = records::archived_in(dynamodb, table, room).await?;
                        rooms.insert(room.clone(), read);
                    }
                    rooms.get(room).and_then(|r| r.get(file.sid())).cloned()
                }
                _ => None,
            };
            let (reason, archived_size) = match found? {
                Some(found) => match judge(&file, &found, record.as_ref()) {
                    None => {
                        report.archived += 1;
                        if found.envelope == EnvelopeState::Complete {
                            report.encrypted += 1;
                        }
                        report.archived_files.push(ArchivedFile {
                            file,
                            key: found.key,
                            size: found.size,
                            recorded: record.is_some(),
                        });
                        continue;
                    }
                    Some(reason) => (reason, Some(found.size)),
                },
                None => ("missing", None),
            };
            match reason {
                "missing" => report.missing += 1,
                "size_mismatch" => report.size_mismatch += 1,
                _ => report.envelope_missing += 1,
            }
            report.not_archived.push(NotArchived {
                sid: file.sid().to_owned(),
                kind: file.kind,
                reason,
                twilio_size: file.size(),
                archived_size,
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

/// Why an archived object does not hold `file` safely, if it does not: `size_mismatch` (neither
/// Twilio's size nor, when encrypted, its AES-CBC padded length) or `envelope_missing`.
fn judge(file: &MediaFile, found: &Found, record: Option<&Archived>) -> Option<&'static str> {
    let encrypted = found.envelope != EnvelopeState::None || record.is_some_and(|r| r.encrypted);
    let size_fits = match file.size() {
        Some(size) if encrypted => envelope::ciphertext_fits(found.size, size),
        size => size == Some(found.size),
    };
    if !size_fits {
        Some("size_mismatch")
    } else if encrypted && found.envelope != EnvelopeState::Complete {
        Some("envelope_missing")
    } else {
        None
    }
}

/// The archived object of `file`: its key, size and envelope, if there is one.
async fn archived_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    file: &MediaFile,
) -> Result<Option<Found>, OperatorError> {
    let s3_error = |detail: String| OperatorError::Aws {
        service: "S3",
        detail,
    };
    let key = file
        .archive_key(prefix)
        .map_err(|err| s3_error(err.to_string()))?;
    if let Some(found) = head(s3, bucket, &key).await? {
        return Ok(Some(found));
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
    match listed.contents().first().and_then(|object| object.key()) {
        Some(other) => head(s3, bucket, other).await,
        None => Ok(None),
    }
}

/// `HeadObject`: the object's size and envelope, `None` when there is no object.
async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Found>, OperatorError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => {
            let metadata = head.metadata().cloned().unwrap_or_default();
            let envelope = match Envelope::from_metadata(
                metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ) {
                Ok(None) => EnvelopeState::None,
                Ok(Some(_)) => EnvelopeState::Complete,
                Err(_) => EnvelopeState::Broken,
            };
            Ok(Some(Found {
                key: key.to_owned(),
                size: head.content_length().unwrap_or_default().max(0) as u64,
                envelope,
            }))
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(err) => Err(OperatorError::Aws {
            service: "S3",
            detail: aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
        }),
    }
}

/// What `prune` did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// The account listed (absent when the key's account is not known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Completed files at Twilio in the range.
    pub total: usize,
    /// Safe to delete at Twilio: archived with Twilio's size, its envelope when encrypted, and a
    /// `media-archived` record.
    pub deletable: usize,
    /// Deleted at Twilio now (0 without `--delete`).
    pub deleted: usize,
    /// Kept: the sum of `missing`, `size_mismatch`, `envelope_missing` and `unrecorded`.
    pub kept: usize,
    /// Kept: not in the archive.
    pub missing: usize,
    /// Kept: archived with another size.
    pub size_mismatch: usize,
    /// Kept: encrypted, and the archived object lacks a complete envelope.
    pub envelope_missing: usize,
    /// Kept: archived, but no `media-archived` record in the room's timeline.
    pub unrecorded: usize,
    /// Kept: stored externally by Twilio.
    pub external: usize,
    /// Deletions Twilio refused (their SIDs in `failed_sids`).
    pub failed: usize,
    /// Whether deletions were made.
    pub delete: bool,
    /// The files deleted, or that `--delete` would delete.
    pub sids: Vec<String>,
    /// The files kept, and why: `missing`, `size_mismatch`, `envelope_missing`, `unrecorded`.
    pub kept_files: Vec<NotArchived>,
    /// What could not be deleted.
    pub failed_sids: Vec<String>,
}

impl PruneReport {
    /// Everything in range is safely archived and every deletion asked for was made.
    pub fn complete(&self) -> bool {
        self.kept == 0 && self.failed == 0
    }
}

/// Deletes at Twilio (with `delete`) exactly the files `reconcile` finds archived (with their envelope
/// when encrypted) and whose room timeline holds their `media-archived` record; records each deletion in
/// the room's timeline.
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
        account: reconciled.account.clone(),
        total: reconciled.total,
        external: reconciled.external,
        missing: reconciled.missing,
        size_mismatch: reconciled.size_mismatch,
        envelope_missing: reconciled.envelope_missing,
        kept_files: reconciled.not_archived.clone(),
        delete,
        ..PruneReport::default()
    };
    for archived in &reconciled.archived_files {
        let file = &archived.file;
        if !archived.recorded {
            report.unrecorded += 1;
            report.kept_files.push(NotArchived {
                sid: file.sid().to_owned(),
                kind: file.kind,
                reason: "unrecorded",
                twilio_size: file.size(),
                archived_size: Some(archived.size),
            });
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
                    Some((_, bucket)) => format!("s3://{bucket}/{}", archived.key),
                    None => archived.key.clone(),
                };
                records::record_deletion(dynamodb, table, file, &uri, archived.size).await?;
            }
            Err(err) => {
                report.failed += 1;
                report.failed_sids.push(file.sid().to_owned());
                ctx.progress
                    .println(format!("could not delete {}: {err}", file.sid()));
            }
        }
    }
    report.kept =
        report.missing + report.size_mismatch + report.envelope_missing + report.unrecorded;
    report.sids.sort();
    report.kept_files.sort_by(|a, b| a.sid.cmp(&b.sid));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::rest::Recording;

    fn file(size: u64) -> MediaFile {
        let recording: Recording = serde_json::from_value(serde_json::json!({
            "sid": "RT1", "account_sid": "AC1", "size": size,
            "grouping_sids": {"room_sid": "RM1"}
        }))
        .unwrap_or_else(|err| panic!("{err}"));
        MediaFile::from_recording(recording).unwrap_or_else(|| panic!("a room"))
    }

    fn found(size: u64, envelope: EnvelopeState) -> Found {
        Found {
            key: "k".into(),
            size,
            envelope,
        }
    }

    #[test]
    fn an_encrypted_file_is_safe_only_with_its_whole_envelope() {
        let encrypted = Archived {
            s3_uri: None,
            encrypted: true,
        };
        let plain = Archived::default();
        use EnvelopeState::{Broken, Complete, None as Plain};
        for (size, object, envelope, record, expected) in [
            (100, 100, Plain, Some(&plain), Option::None),
            (100, 112, Plain, Some(&plain), Some("size_mismatch")),
            (100, 100, Complete, Some(&encrypted), Option::None),
            (100, 112, Complete, Option::None, Option::None),
            (100, 113, Complete, Option::None, Some("size_mismatch")),
            (100, 112, Plain, Some(&encrypted), Some("envelope_missing")),
            (100, 112, Broken, Option::None, Some("envelope_missing")),
            (100, 112, Broken, Some(&plain), Some("envelope_missing")),
        ] {
            assert_eq!(
                judge(&file(size), &found(object, envelope), record),
                expected,
                "{size} {object} {envelope:?} {record:?}"
            );
        }
    }
}
