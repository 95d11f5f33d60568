//! The archive bucket: is a media file already there, and a streamed S3 multipart upload that completes
//! only when every byte the source promised has arrived (and aborts otherwise, leaving no parts behind).
//!
//! The upload is a pipeline: the download keeps reading while the parts already read upload at the same
//! time. A part is filled and uploaded only with one of `parts_in_flight` slots, shared by every message of
//! the function, so the part buffers never take more than `parts_in_flight` × the part size, whatever the
//! batch. Each part carries its SHA-256 so that S3
//! verifies what it received; the SHA-256 of the whole file is computed while it streams, written into the
//! object's metadata (`sha256`) by an in-place copy, and compared with the SHA-256 S3 computes of the
//! stored object during that copy.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, MetadataDirective,
    ServerSideEncryption,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::archiver::media::MediaStream;
use crate::archiver::rules::{self, ArchiveError};

/// The object metadata entry holding the SHA-256 of the archived bytes (lowercase hex).
pub const SHA256_METADATA: &str = "sha256";

/// The largest object S3 copies in one `CopyObject`: larger files keep their SHA-256 in the table only.
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// How long the in-place copy may take (the function's timeout is 150 s).
const COPY_TIMEOUT: Duration = Duration::from_secs(120);

/// A file written to the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// `s3://bucket/key`.
    pub s3_uri: String,
    /// Bytes written.
    pub size: u64,
    /// The SHA-256 of those bytes, lowercase hex.
    pub sha256: String,
}

/// Where media files are kept: an S3 bucket in production, memory in unit tests.
pub trait MediaSink: Send + Sync {
    /// An archived object whose key starts with `stem`, that holds exactly `size` bytes and whose SHA-256
    /// was recorded when it was written, if any. (An object without one, from an interrupted archive, is
    /// not trusted: the media is copied again.)
    fn find(
        &self,
        stem: &str,
        size: u64,
    ) -> impl Future<Output = Result<Option<Uploaded>, ArchiveError>> + Send;

    /// Streams `media` into a new object at `key`, completing it only when the byte count agrees with
    /// the stream's `Content-Length` and with `expected_size` ([`rules::check_length`]).
    fn upload(
        &self,
        key: &str,
        media: MediaStream,
        metadata: HashMap<String, String>,
        expected_size: Option<u64>,
    ) -> impl Future<Output = Result<Uploaded, ArchiveError>> + Send;
}

fn transient(what: &str, err: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Transient(format!("{what}: {err}"))
}

/// The archive bucket in S3 (server-side encrypted, multipart, checksummed).
#[derive(Debug, Clone)]
pub struct S3Archive {
    s3: aws_sdk_s3::Client,
    bucket: String,
    part_size: u64,
    read_timeout: Duration,
    /// One permit per part being filled or uploaded, shared by every upload of this archiver: they bound
    /// its memory to `part_size` × their number, whatever the batch.
    slots: Arc<Semaphore>,
}

/// A multipart upload being written.
struct Upload<'a> {
    archive: &'a S3Archive,
    key: &'a str,
    id: String,
}

/// What streaming a file into parts produced.
struct Streamed {
    parts: Vec<CompletedPart>,
    count: u64,
    sha256: [u8; 32],
}

impl S3Archive {
    /// Writes to `bucket` in parts of `part_size` bytes (S3's minimum is 5 MiB; larger files get larger
    /// parts, see [`rules::part_size`]), with at most `parts_in_flight` parts uploading at once across
    /// every upload of this archiver, giving up when the source sends nothing for `read_timeout`.
    ///
    /// Memory: the part buffers never exceed `part_size` × `parts_in_flight`, across every file being
    /// copied at once (a part is filled only with a slot, which it keeps until it is uploaded).
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        part_size: usize,
        parts_in_flight: usize,
        read_timeout: Duration,
    ) -> Self {
        S3Archive {
            s3,
            bucket: bucket.into(),
            part_size: part_size as u64,
            read_timeout,
            slots: Arc::new(Semaphore::new(parts_in_flight.max(1))),
        }
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// `bucket/key`, URL-encoded as `CopySource` requires (slashes kept).
    fn copy_source(&self, key: &str) -> String {
        const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'/')
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        format!(
            "{}/{}",
            self.bucket,
            percent_encoding::utf8_percent_encode(key, KEEP)
        )
    }

    /// The SHA-256 recorded in an object's metadata, if it is a valid one.
    async fn recorded_sha256(&self, key: &str) -> Result<Option<String>, ArchiveError> {
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| {
                transient(
                    "reading the archived object",
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        Ok(head
            .metadata()
            .and_then(|m| m.get(SHA256_METADATA))
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
            .cloned())
    }

    async fn start<'a>(
        &'a self,
        key: &'a str,
        content_type: &str,
        metadata: &HashMap<String, String>,
    ) -> Result<Upload<'a>, ArchiveError> {
        let upload = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .set_metadata(Some(metadata.clone()))
            .send()
            .await
            .map_err(|err| {
                transient(
                    "starting the upload",
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        let id = upload
            .upload_id()
            .ok_or_else(|| ArchiveError::Transient("S3 gave no upload id".into()))?
            .to_owned();
        Ok(Upload {
            archive: self,
            key,
            id,
        })
    }
}

impl Upload<'_> {
    /// Reads the body and hands each full part to an upload task, while at most the semaphore's permits
    /// are uploading; hashes the whole file as it passes. On any failure the tasks still running are
    /// cancelled and awaited before returning, so nothing is uploaded after the caller aborts.
    async fn stream(
        &self,
        media: &mut MediaStream,
        length: Option<u64>,
    ) -> Result<Streamed, ArchiveError> {
        let mut in_flight = JoinSet::new();
        let result = self.stream_into(media, length, &mut in_flight).await;
        if result.is_err() {
            in_flight.shutdown().await;
        }
        result
    }

    async fn stream_into(
        &self,
        media: &mut MediaStream,
        length: Option<u64>,
        in_flight: &mut JoinSet<Result<CompletedPart, ArchiveError>>,
    ) -> Result<Streamed, ArchiveError> {
        let read_timeout = self.archive.read_timeout;
        let mut parts = Vec::new();
        let mut whole = Sha256::new();
        let mut count: u64 = 0;
        let mut number: u64 = 1;
        let mut target = rules::part_size(self.archive.part_size, length, number) as usize;
        let mut buffer = BytesMut::new();
        let mut slot = None;
        loop {
            let frame = match tokio::time::timeout(read_timeout, media.body.frame()).await {
                Err(_) => {
                    return Err(ArchiveError::Transient(format!(
                        "the media stalled for {read_timeout:?} after {count} bytes"
                    )))
                }
                Ok(None) => break,
                Ok(Some(Err(err))) => {
                    return Err(transient(
                        &format!("the media broke off after {count} bytes"),
                        err,
                    ))
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            count += data.len() as u64;
            whole.update(&data);
            while !data.is_empty() {
                if slot.is_none() {
                    if number > rules::MAX_PARTS {
                        return Err(ArchiveError::Transient(format!(
                            "more than {} parts: the file outgrew the part size chosen for it",
                            rules::MAX_PARTS
                        )));
                    }
                    // A part's memory is taken only with a slot: the slots bound every buffer.
                    slot = Some(self.slot().await?);
                    // Exactly one part's worth: extending never reallocates.
                    buffer.reserve(target);
                }
                let take = (target - buffer.len()).min(data.len());
                buffer.extend_from_slice(&data.split_to(take));
                if buffer.len() == target {
                    let full = std::mem::take(&mut buffer).freeze();
                    let held = self.slot_or_wait(slot.take()).await?;
                    send_part(self, in_flight, number, full, held)?;
                    while let Some(done) = in_flight.try_join_next() {
                        parts.push(joined(done)?);
                    }
                    number += 1;
                    target = rules::part_size(self.archive.part_size, length, number) as usize;
                }
            }
        }
        if !buffer.is_empty() || number == 1 {
            let held = self.slot_or_wait(slot.take()).await?;
            send_part(self, in_flight, number, buffer.freeze(), held)?;
        }
        while let Some(done) = in_flight.join_next().await {
            parts.push(joined(done)?);
        }
        parts.sort_by_key(|part| part.part_number());
        Ok(Streamed {
            parts,
            count,
            sha256: whole.finalize().into(),
        })
    }

    /// One part's worth of memory and upload: waits until fewer than `parts_in_flight` parts are being
    /// filled or uploaded by this archiver.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, ArchiveError> {
        self.archive
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|err| ArchiveError::Transient(format!("part slots: {err}")))
    }

    async fn slot_or_wait(
        &self,
        held: Option<OwnedSemaphorePermit>,
    ) -> Result<OwnedSemaphorePermit, ArchiveError> {
        match held {
            Some(slot) => Ok(slot),
            None => self.slot().await,
        }
    }

    async fn complete(&self, parts: Vec<CompletedPart>) -> Result<Option<String>, ArchiveError> {
        let completed = self
            .archive
            .s3
            .complete_multipart_upload()
            .bucket(&self.archive.bucket)
            .key(self.key)
            .upload_id(&self.id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|err| {
                transient(
                    "completing the upload",
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        Ok(completed.e_tag().map(str::to_owned))
    }

    /// Never leaves parts behind: a failed abort is logged (and the bucket's lifecycle rule cleans up).
    async fn abort(&self) {
        let aborted = self
            .archive
            .s3
            .abort_multipart_upload()
            .bucket(&self.archive.bucket)
            .key(self.key)
            .upload_id(&self.id)
            .send()
            .await;
        if let Err(err) = aborted {
            tracing::error!(key = self.key, error = %aws_sdk_s3::error::DisplayErrorContext(err), "could not abort a multipart upload");
        }
    }
}

/// Uploads part `number` in a task of its own (its SHA-256 computed there), releasing `slot` when done.
fn send_part(
    upload: &Upload<'_>,
    in_flight: &mut JoinSet<Result<CompletedPart, ArchiveError>>,
    number: u64,
    data: Bytes,
    slot: OwnedSemaphorePermit,
) -> Result<(), ArchiveError> {
    let number = i32::try_from(number)
        .map_err(|_| ArchiveError::Transient(format!("part number {number}")))?;
    let request = upload
        .archive
        .s3
        .upload_part()
        .bucket(&upload.archive.bucket)
        .key(upload.key)
        .upload_id(&upload.id)
        .part_number(number);
    in_flight.spawn(async move {
        let checksum = BASE64.encode(Sha256::digest(&data));
        // The part's SHA-256 travels in a signed header and S3 verifies the bytes against it, so the
        // signature need not hash the payload a second time (one SHA-256 pass over every byte saved).
        let uploaded = request
            .checksum_sha256(&checksum)
            .body(ByteStream::from(data))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|err| {
                transient(
                    &format!("uploading part {number}"),
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            });
        drop(slot);
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(uploaded?.e_tag().map(str::to_owned))
            .checksum_sha256(checksum)
            .build())
    });
    Ok(())
}

fn joined(
    done: Result<Result<CompletedPart, ArchiveError>, tokio::task::JoinError>,
) -> Result<CompletedPart, ArchiveError> {
    done.map_err(|err| ArchiveError::Transient(format!("a part upload task ended: {err}")))?
}

impl S3Archive {
    /// Rewrites the completed object's metadata in place with its SHA-256 (S3 metadata is only set by
    /// writing an object), asking S3 to compute the SHA-256 of the copy: if S3's differs from the one
    /// computed while streaming, the object is deleted and the archive retried. Only if the object is
    /// still the one just completed (`etag`).
    async fn seal(
        &self,
        key: &str,
        etag: Option<String>,
        content_type: &str,
        mut metadata: HashMap<String, String>,
        sha256: &[u8; 32],
        size: u64,
    ) -> Result<(), ArchiveError> {
        if size > MAX_COPY {
            tracing::warn!(
                key,
                size,
                "larger than one CopyObject can rewrite: the SHA-256 is kept in the table only"
            );
            return Ok(());
        }
        metadata.insert(SHA256_METADATA.to_owned(), hex::encode(sha256));
        let copied = self
            .s3
            .copy_object()
            .bucket(&self.bucket)
            .key(key)
            .copy_source(self.copy_source(key))
            .set_copy_source_if_match(etag)
            .metadata_directive(MetadataDirective::Replace)
            .set_metadata(Some(metadata))
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            // A server-side copy of a large object takes longer than an attempt of the other calls.
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default().timeout_config(
                    aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(COPY_TIMEOUT)
                        .operation_timeout(COPY_TIMEOUT)
                        .build(),
                ),
            )
            .send()
            .await
            .map_err(|err| {
                transient(
                    "writing the SHA-256 into the object's metadata",
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        let expected = BASE64.encode(sha256);
        let computed = copied.copy_object_result().and_then(|result| {
            full_object_sha256(result.checksum_type(), result.checksum_sha256())
        });
        if computed.is_none() {
            tracing::debug!(
                key,
                "S3 returned no full-object SHA-256 for the copy: nothing to compare"
            );
        }
        match computed {
            Some(computed) if computed != expected => {
                let deleted = self
                    .s3
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await;
                if let Err(err) = deleted {
                    tracing::error!(key, error = %aws_sdk_s3::error::DisplayErrorContext(err), "could not delete an object whose bytes differ from Twilio's");
                }
                Err(ArchiveError::Transient(format!(
                    "S3 computed SHA-256 {computed} of the stored object, but what Twilio served hashes to {expected}"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The SHA-256 S3 returned for a copy, if it is of the whole object: a composite checksum (of parts) cannot
/// be compared with the file's. S3 names the type; without one (moto), a composite value ends in `-N`.
fn full_object_sha256<'a>(
    kind: Option<&ChecksumType>,
    checksum: Option<&'a str>,
) -> Option<&'a str> {
    match kind {
        Some(ChecksumType::FullObject) => checksum,
        Some(_) => None,
        None => checksum.filter(|c| !c.contains('-')),
    }
}

impl MediaSink for S3Archive {
    async fn find(&self, stem: &str, size: u64) -> Result<Option<Uploaded>, ArchiveError> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(stem)
            .send()
            .await
            .map_err(|err| {
                transient(
                    "listing the archive",
                    aws_sdk_s3::error::DisplayErrorContext(err),
                )
            })?;
        let Some(key) = listed
            .contents()
            .iter()
            .find(|object| object.size() == i64::try_from(size).ok())
            .and_then(|object| object.key())
        else {
            return Ok(None);
        };
        Ok(self.recorded_sha256(key).await?.map(|sha256| Uploaded {
            s3_uri: self.uri(key),
            size,
            sha256,
        }))
    }

    async fn upload(
        &self,
        key: &str,
        mut media: MediaStream,
        metadata: HashMap<String, String>,
        expected_size: Option<u64>,
    ) -> Result<Uploaded, ArchiveError> {
        let content_type = media.content_type.clone();
        let upload = self.start(key, &content_type, &metadata).await?;
        let length = expected_size.or(media.content_length);
        let streamed = upload
            .stream(&mut media, length)
            .await
            .and_then(|streamed| {
                rules::check_length(streamed.count, media.content_length, expected_size)?;
                Ok(streamed)
            });
        let streamed = match streamed {
            Ok(streamed) => streamed,
            Err(err) => {
                upload.abort().await;
                return Err(err);
            }
        };
        let etag = match upload.complete(streamed.parts).await {
            Ok(etag) => etag,
            Err(err) => {
                upload.abort().await;
                return Err(err);
            }
        };
        self.seal(
            key,
            etag,
            &content_type,
            metadata,
            &streamed.sha256,
            streamed.count,
        )
        .await?;
        Ok(Uploaded {
            s3_uri: self.uri(key),
            size: streamed.count,
            sha256: hex::encode(streamed.sha256),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_object_sha256_is_compared() {
        assert_eq!(
            full_object_sha256(Some(&ChecksumType::FullObject), Some("abc=")),
            Some("abc=")
        );
        assert_eq!(
            full_object_sha256(Some(&ChecksumType::Composite), Some("abc=")),
            None
        );
        assert_eq!(full_object_sha256(None, Some("abc=")), Some("abc="));
        assert_eq!(full_object_sha256(None, Some("abc=-3")), None);
        assert_eq!(
            full_object_sha256(Some(&ChecksumType::FullObject), None),
            None
        );
    }
}
