//! The `media-archiver` Lambda: consumes the media queue (SQS event source, partial batch responses)
//! and streams each recording and composition into the team's S3 bucket.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_lambda_events::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use lambda_http::Error;
use twilio_video_callbacks::archiver::{s3_client, ApiKey, Archiver, ArchiverSettings};
use twilio_video_callbacks::config::sdk_loader;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(name: &str, hint: &str) -> Result<String, Error> {
    var(name).ok_or_else(|| format!("{name} is not set: {hint}").into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let mut settings = ArchiverSettings::new(
        required(
            "ARCHIVE_BUCKET",
            "set it to the S3 bucket that receives the media",
        )?,
        required(
            "EVENTS_TABLE",
            "set it to the DynamoDB table where outcomes are recorded",
        )?,
    );
    if let Some(prefix) = var("ARCHIVE_PREFIX") {
        settings.prefix = prefix;
    }
    if let Some(base) = var("TWILIO_MEDIA_BASE_URL") {
        settings.media_base_url = base;
    }
    // Media files are large: S3 calls get minutes, not the receiver's seconds.
    let sdk = sdk_loader()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(Duration::from_secs(180))
                .build(),
        )
        .load()
        .await;
    let key = match (var("TWILIO_API_KEY_SID"), var("TWILIO_API_KEY_SECRET"), var("TWILIO_API_KEY_PARAMETER")) {
        (Some(sid), Some(secret), None) => ApiKey::new(sid, secret),
        (None, None, Some(parameter)) => {
            let value = aws_sdk_ssm::Client::new(&sdk)
                .get_parameter()
                .name(&parameter)
                .with_decryption(true)
                .send()
                .await
                .map_err(|err| format!("could not read {parameter} from SSM: {}", aws_sdk_ssm::error::DisplayErrorContext(err)))?;
            value
                .parameter()
                .and_then(|p| p.value())
                .and_then(ApiKey::parse)
                .ok_or_else(|| format!("{parameter} must hold SID:SECRET of a Twilio API key"))?
        }
        _ => {
            return Err("set TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET, or TWILIO_API_KEY_PARAMETER to the name \
                        of an SSM SecureString holding SID:SECRET (not both)"
                .into())
        }
    };
    let archiver = Archiver::new(
        s3_client(&sdk),
        aws_sdk_dynamodb::Client::new(&sdk),
        key,
        settings,
    )?;
    let archiver = &archiver;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(archiver.handle(event.payload).await)
    }))
    .await
}
