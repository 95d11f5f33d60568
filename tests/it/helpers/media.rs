//! The media side's fixtures: queue messages, SQS batches, and the real archiver built the way the
//! binary builds it, pointed at moto and a fake Twilio.

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use twilio_video_callbacks::archiver::{self, ApiKey, AwsArchiver, KeySource, Settings};
use twilio_video_callbacks::message::MediaMessage;
use twilio_video_callbacks::twilio::callback::{Codec, Container, TrackKind};

/// A `recording-completed` message for `sid`, every field filled as Twilio fills them.
pub fn recording(sid: &str, size: u64) -> MediaMessage {
    MediaMessage {
        schema_version: 1,
        event: "recording-completed".into(),
        idempotency_key: format!("key-{sid}"),
        account_sid: "AC00000000000000000000000000000001".into(),
        room_sid: "RM00000000000000000000000000000001".into(),
        room_name: Some("daily-standup".into()),
        recording_sid: Some(sid.into()),
        composition_sid: None,
        participant_sid: Some("PA00000000000000000000000000000001".into()),
        source_sid: Some("MT00000000000000000000000000000001".into()),
        track_name: Some("microphone".into()),
        media_type: Some(TrackKind::Audio),
        container: Some(Container::Mka),
        codec: Some(Codec::Opus),
        media_uri: Some(format!("/v1/Recordings/{sid}/Media")),
        media_url: Some(format!(
            "https://video.twilio.com/v1/Recordings/{sid}/Media"
        )),
        media_external_location: None,
        duration: Some(61),
        size: Some(size),
        timestamp: "2026-11-27T09:15:02.300Z".into(),
        origin: None,
    }
}

/// A `composition-available` message for `sid`.
pub fn composition(sid: &str, size: u64) -> MediaMessage {
    MediaMessage {
        event: "composition-available".into(),
        recording_sid: None,
        composition_sid: Some(sid.into()),
        participant_sid: None,
        source_sid: None,
        track_name: None,
        media_type: None,
        container: None,
        codec: None,
        media_uri: Some(format!("/v1/Compositions/{sid}/Media")),
        media_url: Some(format!(
            "https://video.twilio.com/v1/Compositions/{sid}/Media"
        )),
        ..recording(sid, size)
    }
}

/// The JSON body a message travels as.
pub fn body(message: &MediaMessage) -> String {
    serde_json::to_string(message).unwrap_or_else(|err| panic!("{err}"))
}

/// An SQS event of `(message id, body)` records, as the event source mapping delivers them.
pub fn batch(messages: &[(&str, String)]) -> SqsEvent {
    SqsEvent {
        records: messages
            .iter()
            .map(|(id, body)| SqsMessage {
                message_id: Some((*id).to_owned()),
                body: Some(body.clone()),
                ..SqsMessage::default()
            })
            .collect(),
    }
}

/// The message ids the archiver asked SQS to deliver again, sorted.
pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

/// The archiver, built by [`archiver::build`] as the binary builds it, reading Twilio at `twilio_url`.
pub async fn archiver(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    table: &str,
    twilio_url: &str,
    key: ApiKey,
    part_size: usize,
    read_timeout: Duration,
) -> AwsArchiver {
    archiver_with(
        sdk,
        bucket,
        table,
        twilio_url,
        KeySource::Inline(key),
        part_size,
        read_timeout,
    )
    .await
}

/// [`archiver`] with its keys from `keys` (one per account, from a document).
pub async fn archiver_with(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    table: &str,
    twilio_url: &str,
    keys: KeySource,
    part_size: usize,
    read_timeout: Duration,
) -> AwsArchiver {
    let mut settings = Settings::new(bucket, table, keys);
    settings.media_base_url = twilio_url.to_owned();
    settings.part_size = part_size;
    settings.read_timeout = read_timeout;
    archiver::build(&settings, sdk)
        .await
        .unwrap_or_else(|err| panic!("{err}"))
}
