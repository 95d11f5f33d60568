//! The archive bucket: is a media file already there, and a streamed S3 multipart upload that completes
//! only when every byte the source promised has arrived (and aborts otherwise, leaving no parts behind).
//!
//! Every file is written once. The upload is a pipeline: the download keeps reading while the parts
//! already read upload at the same time. A part is filled and uploaded only with one of `parts_in_flight`
//! slots, shared by every message of the function, and each slot's buffer is reused from part to part:
//! the part buffers never take more than `parts_in_flight` × the part size, whatever the batch, and no
//! part's memory is handed back to the allocator to be fragmented between threads.
//!
//! Integrity without a second write: each part carries its CRC64NVME, and the upload is created with S3's
//! full-object checksum (`ChecksumType` `FULL_OBJECT`), so `CompleteMultipartUpload` names the CRC64NVME
//! of the whole file as it streamed from Twilio and S3 refuses to complete an object whose bytes differ.
//! The SHA-256 of the whole file, computed as it streams, goes into the object's `sha256` tag
//! (`PutObjectTagging` creates no object version) and into the record. The object's metadata, the
//! encryption envelope included, is set when the upload is created.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
    Tag, Tagging,
};
use aws_smithy_checksums::ChecksumAlgorithm as Crc;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::archiver::media::MediaStream;
use crate::archiver::rules::{self, ArchiveError};
use crate::twilio::envelope::{Envelope, Version};

/// The object tag holding the SHA-256 of the archived bytes (lowercase hex).
pub const SHA256_TAG: &str = "sha256";

/// The length the archived bytes must have: the message's `size` when known, and whether the media is
/// encrypted (then the padded length fits too, [`rules::fits_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// The message's `size`.
    pub size: Option<u64>,
    /// Whether Twilio served the media encrypted.
    pub encrypted: bool,
}

/// A file written to the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// `s3://bucket/key`.
    pub s3_uri: String,
    /// Bytes written.
    pub size: u64,
    /// The SHA-256 of those bytes, lowercase hex.
    pub sha256: String,
    /// The envelope's version, when the object keeps one (an encrypted media).
    pub encrypted: Option<Version>,
}

/// Where media files are kept: an S3 bucket in production, memory in unit tests.
pub trait MediaSink: Send + Sync {
    /// An archived object whose key starts with `stem`, with its `sha256` tag and the expected length:
    /// `size` bytes, or its AES-CBC padded length for an object that keeps an encryption envelope. (An
    /// object without the tag, from an interrupted archive, is not trusted: the media is copied again.)
    fn find(
        &self,
        stem: &str,
        size: u64,
    ) -> impl Future<Output = Result<Option<Uploaded>, ArchiveError>> + Send;

    /// Streams `media` into a new object at `key` with `metadata`, completing it only when the byte
    /// count agrees with the stream's `Content-Length` and with `expected` ([`rules::check_length`]).
    fn upload(
        &self,
        key: &str,
        media: MediaStream,
        metadata: HashMap<String, String>,
        expected: Expected,
    ) -> impl Future<Output = Result<Uploaded, ArchiveError>> + Send;
}

fn transient(what: &str, err: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Transient(format!("{what}: {err}"))
}

fn s3_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    what: &'static str,
) -> impl Fn(aws_sdk_s3::error::SdkError<E, R>) -> ArchiveError {
    move |err| transient(what, aws_sdk_s3::error::DisplayErrorContext(err))
}

/// The archive bucket in S3 (server-side encrypted, multipart, checksummed).
#[derive(Debug, Clone)]
pub struct S3Archive {
    s3: aws_sdk_s3::Client,
    bucket: String,
    part_size: u64,
    read_timeout: Duration,
    /// One slot per part being filled or uploaded, shared by every upload of this archiver: they bound
    /// its memory to `part_size` × their number, whatever the batch.
    slots: Slots,
}

/// The part slots: permits, and the buffers they reuse (at most one per permit).
#[derive(Debug, Clone)]
struct Slots {
    permits: Arc<Semaphore>,
    spare: Arc<Mutex<Vec<BytesMut>>>,
}

/// One part's right to memory and to an upload; given back by [`Slot::release`].
struct Slot {
    permit: OwnedSemaphorePermit,
    spare: Arc<Mutex<Vec<BytesMut>>>,
}

impl Slots {
    fn new(n: usize) -> Self {
        Slots {
            permits: Arc::new(Semaphore::new(n)),
            spare: Arc::new(Mutex::new(Vec::with_capacity(n))),
        }
    }

    /// Waits for a slot; returns it with an empty buffer of at least `size` bytes' capacity: a spare one
    /// when there is one (part buffers are allocated once and reused), else a new one.
    async fn take(&self, size: usize) -> Result<(Slot, BytesMut), ArchiveError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|err| ArchiveError::Transient(format!("part slots: {err}")))?;
        let mut buffer = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        buffer.clear();
        buffer.reserve(size);
        let slot = Slot {
            permit,
            spare: self.spare.clone(),
        };
        Ok((slot, buffer))
    }
}

impl Slot {
    /// Keeps the part's buffer for the next part (when nothing else holds it: otherwise it is freed
    /// here), then frees the permit: a new part's memory is never taken while this one's is held.
    fn release(self, data: Bytes) {
        if let Ok(buffer) = data.try_into_mut() {
            self.spare
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(buffer);
        }
        drop(self.permit);
    }
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
    /// The whole file's CRC64NVME, base64 (as S3 names it).
    crc64: String,
}

impl S3Archive {
    /// Writes to `bucket` in parts of `part_size` bytes (S3's minimum is 5 MiB; larger files get larger
    /// parts, see [`rules::part_size`]), with at most `parts_in_flight` parts filled or uploading at once
    /// across every upload of this archiver, giving up when the source sends nothing for `read_timeout`.
    ///
    /// Memory: the part buffers never exceed `part_size` × `parts_in_flight`, across every file being
    /// copied at once (a part is filled only in a slot's buffer, which it keeps until it is uploaded).
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
            slots: Slots::new(parts_in_flight.max(1)),
        }
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// An object's `sha256` tag, if it holds a valid one.
    async fn sha256_tag(&self, key: &str) -> Result<Option<String>, ArchiveError> {
        let tagging = self
            .s3
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_error("reading the archived object's tags"))?;
        Ok(tagging
            .tag_set()
            .iter()
            .find(|tag| tag.key() == SHA256_TAG)
            .map(|tag| tag.value().to_owned())
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())))
    }

    /// The envelope an archived object keeps in its metadata (`None` for one without), or an error for
    /// half of one.
    async fn envelope_of(&self, key: &str) -> Result<Option<Envelope>, ArchiveError> {
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_error("reading the archived object"))?;
        let metadata = head.metadata().cloned().unwrap_or_default();
        Envelope::from_metadata(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|err| ArchiveError::Envelope(format!("the archived {key}: {err}")))
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
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_type(ChecksumType::FullObject)
            .set_metadata(Some(metadata.clone()))
            .send()
            .await
            .map_err(s3_error("starting the upload"))?;
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

    /// Tags the completed object with its SHA-256 (a tag creates no object version).
    async fn tag(&self, key: &str, sha256: &str) -> Result<(), ArchiveError> {
        let tag = Tag::builder()
            .key(SHA256_TAG)
            .value(sha256)
            .build()
            .map_err(|err| transient("the sha256 tag", err))?;
        let tagging = Tagging::builder()
            .tag_set(tag)
            .build()
            .map_err(|err| transient("the sha256 tag", err))?;
        self.s3
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(s3_error("tagging the object with its SHA-256"))?;
        Ok(())
    }
}

impl Upload<'_> {
    /// Reads the body and hands each full part to an upload task, while at most the slots' parts are
    /// filled or uploading; hashes the whole file as it passes. On any failure the tasks still running
    /// are cancelled and awaited before returning, so nothing is uploaded after the caller aborts.
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
        let mut crc = Crc::Crc64Nvme.into_impl();
        let mut count: u64 = 0;
        let mut number: u64 = 1;
        let mut target = rules::part_size(self.archive.part_size, length, number) as usize;
        // The part being filled, in its slot's buffer: nothing is kept in memory without a slot.
        let mut filling: Option<(Slot, BytesMut)> = None;
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
            crc.update(&data);
            while !data.is_empty() {
                let (_, buffer) = match &mut filling {
                    Some(filling) => filling,
                    None => {
                        if number > rules::MAX_PARTS {
                            return Err(ArchiveError::Transient(format!(
                                "more than {} parts: the file outgrew the part size chosen for it",
                                rules::MAX_PARTS
                            )));
                        }
                        filling.insert(self.archive.slots.take(target).await?)
                    }
                };
                let take = (target - buffer.len()).min(data.len());
                buffer.extend_from_slice(&data.split_to(take));
                if buffer.len() == target {
                    if let Some((slot, buffer)) = filling.take() {
                        send_part(self, in_flight, number, buffer.freeze(), slot)?;
                    }
                    while let Some(done) = in_flight.try_join_next() {
                        parts.push(joined(done)?);
                    }
                    number += 1;
                    target = rules::part_size(self.archive.part_size, length, number) as usize;
                }
            }
        }
        match filling.take() {
            Some((slot, buffer)) => send_part(self, in_flight, number, buffer.freeze(), slot)?,
            // An empty file is one empty part.
            None if number == 1 => {
                let (slot, buffer) = self.archive.slots.take(0).await?;
                send_part(self, in_flight, number, buffer.freeze(), slot)?;
            }
            None => {}
        }
        while let Some(done) = in_flight.join_next().await {
            parts.push(joined(done)?);
        }
        parts.sort_by_key(|part| part.part_number());
        Ok(Streamed {
            parts,
            count,
            sha256: whole.finalize().into(),
            crc64: BASE64.encode(crc.finalize()),
        })
    }

    /// Completes the object, naming its full-object CRC64NVME (S3 refuses bytes that differ from it).
    async fn complete(&self, parts: Vec<CompletedPart>, crc64: &str) -> Result<(), ArchiveError> {
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
            .checksum_crc64_nvme(crc64)
            .checksum_type(ChecksumType::FullObject)
            .send()
            .await
            .map_err(s3_error("completing the upload"))?;
        // S3 verified the bytes against `crc64`. A store that answers another value (one that does not
        // verify) holds something else: the object is left untagged, so it is never trusted as archived.
        match completed.checksum_crc64_nvme() {
            Some(stored) if stored != crc64 => Err(ArchiveError::Transient(format!(
                "S3 stored CRC64NVME {stored}, but what Twilio served has {crc64}"
            ))),
            _ => Ok(()),
        }
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

/// Uploads part `number` in a task of its own (its CRC64NVME computed there), giving back `slot` when
/// done.
fn send_part(
    upload: &Upload<'_>,
    in_flight: &mut JoinSet<Result<CompletedPart, ArchiveError>>,
    number: u64,
    data: Bytes,
    slot: Slot,
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
        let mut crc = Crc::Crc64Nvme.into_impl();
        crc.update(&data);
        let checksum = BASE64.encode(crc.finalize());
        // The part's CRC64NVME travels in a signed header and S3 verifies the bytes against it, so the
        // signature need not hash the payload (one SHA-256 pass over every byte saved).
        let uploaded = request
            .checksum_crc64_nvme(&checksum)
            .body(ByteStream::from(data.clone()))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(s3_error("uploading a part"));
        slot.release(data);
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(uploaded?.e_tag().map(str::to_owned))
            .checksum_crc64_nvme(checksum)
            .build())
    });
    Ok(())
}

fn joined(
    done: Result<Result<CompletedPart, ArchiveError>, tokio::task::JoinError>,
) -> Result<CompletedPart, ArchiveError> {
    done.map_err(|err| ArchiveError::Transient(format!("a part upload task ended: {err}")))?
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
            .map_err(s3_error("listing the archive"))?;
        for object in listed.contents() {
            let (Some(key), Some(stored)) = (
                object.key(),
                object.size().and_then(|s| u64::try_from(s).ok()),
            ) else {
                continue;
            };
            if !rules::fits_size(stored, size, true) {
                continue;
            }
            let Some(sha256) = self.sha256_tag(key).await? else {
                continue;
            };
            // Half an envelope on an archived object is as undecryptable as none: copied again.
            let encrypted = match self.envelope_of(key).await {
                Ok(envelope) => envelope.map(|e| e.version()),
                Err(ArchiveError::Envelope(_)) => continue,
                Err(err) => return Err(err),
            };
            if stored != size && encrypted.is_none() {
                continue;
            }
            return Ok(Some(Uploaded {
                s3_uri: self.uri(key),
                size: stored,
                sha256,
                encrypted,
            }));
        }
        Ok(None)
    }

    async fn upload(
        &self,
        key: &str,
        mut media: MediaStream,
        metadata: HashMap<String, String>,
        expected: Expected,
    ) -> Result<Uploaded, ArchiveError> {
        let encrypted =
            Envelope::from_metadata(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|err| ArchiveError::Envelope(err.to_string()))?
                .map(|e| e.version());
        let content_type = media.content_type.clone();
        let upload = self.start(key, &content_type, &metadata).await?;
        let length = media.content_length.or(expected.size);
        let streamed = upload
            .stream(&mut media, length)
            .await
            .and_then(|streamed| {
                rules::check_length(
                    streamed.count,
                    media.content_length,
                    expected.size,
                    expected.encrypted,
                )?;
                Ok(streamed)
            });
        let streamed = match streamed {
            Ok(streamed) => streamed,
            Err(err) => {
                upload.abort().await;
                return Err(err);
            }
        };
        if let Err(err) = upload.complete(streamed.parts, &streamed.crc64).await {
            upload.abort().await;
            return Err(err);
        }
        let sha256 = hex::encode(streamed.sha256);
        self.tag(key, &sha256).await?;
        Ok(Uploaded {
            s3_uri: self.uri(key),
            size: streamed.count,
            sha256,
            encrypted,
        })
    }
}
