//! The `callback-receiver` Lambda: reads configuration, builds clients once, serves API Gateway events
//! (Twilio's callbacks) and SQS events (the spill queue).

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use lambda_http::Error;
use twilio_video_callbacks::aws::sdk::aws_config;
use twilio_video_callbacks::receiver::gateway;
use twilio_video_callbacks::receiver::settings::{build_receiver, Settings};

// Each callback allocates a few hundred small strings (the item's attributes); mimalloc makes that ~20%
// cheaper than the system allocator (see the README's benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One invocation at a time, and each is waiting on the network: a single-threaded runtime serves it as well
// and starts faster (no worker threads to spawn; 0.9 ms off the cold start and 0.4 MiB of peak memory,
// measured with scripts/cold_start.py). The warm-up's two calls still run concurrently.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let main_started = std::time::Instant::now();
    lambda_http::tracing::init_default_subscriber();
    let settings =
        Settings::from_env().inspect_err(|err| tracing::error!(error = %err, "cannot start"))?;
    let sdk = aws_config().await;
    let receiver = build_receiver(&settings, &sdk)
        .await
        .inspect_err(|err| tracing::error!(error = %err, "cannot start"))?;
    let setup_ms = main_started.elapsed().as_secs_f64() * 1000.0;
    // Open both connections now (TLS included, on AWS), concurrently, rather than on the first callback.
    let started = std::time::Instant::now();
    let (table, queue) = tokio::join!(receiver.store().warm_up(), receiver.queue().warm_up());
    let warm_up_ms = started.elapsed().as_secs_f64() * 1000.0;
    match (table, queue) {
        (Ok(()), Ok(())) => tracing::info!(
            setup_ms,
            warm_up_ms,
            "connections to DynamoDB and SQS opened"
        ),
        (table, queue) => tracing::warn!(
            setup_ms,
            warm_up_ms,
            table = ?table.err(),
            queue = ?queue.err(),
            "could not open every connection at init; callbacks will try again"
        ),
    }
    let receiver = &receiver;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            gateway::dispatch(receiver, event.payload, event.context)
                .await
                .inspect_err(|err| tracing::error!(error = %err, "not an API Gateway or SQS event"))
                .map_err(Error::from)
        },
    ))
    .await
}
