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
        Ok::<_, Error>(archiver.handle(event.payload).await)
    }))
    .await
}
