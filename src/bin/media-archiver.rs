//! The `media-archiver` Lambda: consumes the media queue (SQS event source, partial batch responses)
//! and streams each recording and composition into the team's S3 bucket.

use aws_lambda_events::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use lambda_http::Error;
use twilio_video_callbacks::archiver::{self, Settings};
use twilio_video_callbacks::aws::sdk;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings =
        Settings::from_env().inspect_err(|err| tracing::error!(error = %err, "cannot start"))?;
    let sdk = sdk::transfer_config().await;
    let archiver = archiver::build(&settings, &sdk)
        .await
        .inspect_err(|err| tracing::error!(error = %err, "cannot start"))?;
    let archiver = &archiver;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // The invocation's deadline (milliseconds since the epoch), as an instant of this process.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let remaining =
            std::time::Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
        let deadline = std::time::Instant::now() + remaining;
        Ok::<_, Error>(archiver.handle_until(event.payload, Some(deadline)).await)
    }))
    .await
}
