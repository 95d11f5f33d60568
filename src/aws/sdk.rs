//! The AWS SDK configuration both Lambdas build once at cold start: region, credentials and endpoint from
//! the environment (`AWS_ENDPOINT_URL` included), an HTTPS client on rustls with ring trusting the
//! compiled-in roots of [`crate::aws::tls`], timeouts and the SDK's standard retries.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The AWS SDK configuration shared by every client: region, credentials and endpoint from the
/// environment (`AWS_ENDPOINT_URL` included), with timeouts that turn a stalled backend into a 5xx well
/// inside the function's timeout, and the SDK's standard retries.
pub async fn aws_config() -> SdkConfig {
    sdk_loader().load().await
}

/// The loader behind [`aws_config`], for callers that override something (tests point it elsewhere).
pub fn sdk_loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(sdk_tls_context())
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(ConnectorOnFirstUse(https)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(1_000))
                .operation_attempt_timeout(Duration::from_millis(1_500))
                .operation_timeout(Duration::from_millis(3_000))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
}

/// The SDK's HTTPS client, minus the connector it builds and throws away when each SDK client is created.
///
/// The SDK's hyper client validates itself in `Client::new` by building a complete connector, TLS
/// configuration included (parsing every trusted root), and dropping it; it then builds the connector it
/// really uses at the first request. With two clients that was three parses of the roots at cold start
/// instead of one (about 0.4 ms each here). This wrapper hands the connector requests to the SDK's client
/// and skips that validation: a TLS configuration that cannot be built (it cannot, the roots are compiled
/// in and tested in [`crate::aws::tls`]) would fail the first call instead of `Client::new`.
#[derive(Debug)]
struct ConnectorOnFirstUse(SharedHttpClient);

impl HttpClient for ConnectorOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The SDK's TLS settings: the compiled-in roots of [`crate::aws::tls`], not the operating system's.
fn sdk_tls_context() -> tls::TlsContext {
    #[allow(clippy::expect_used)]
    tls::TlsContext::builder()
        .with_trust_store(crate::aws::tls::sdk_trust_store())
        .build()
        .expect("building a TLS context from a trust store cannot fail; the roots are compiled in")
}

/// The archiver's SDK configuration: media files are large, so S3 calls get minutes, not the receiver's
/// seconds.
pub async fn transfer_config() -> SdkConfig {
    sdk_loader()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(Duration::from_secs(180))
                .build(),
        )
        .load()
        .await
}

/// An S3 client from the shared configuration; path-style addressing when an endpoint is set (moto).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP client that counts how often the SDK asks it to validate itself (the SDK's own client
    /// builds a whole connector, TLS roots included, each time).
    #[derive(Debug, Default)]
    struct CountsValidations(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl HttpClient for CountsValidations {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            unreachable!("no request is made in this test")
        }

        fn validate_base_client_config(
            &self,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
            _: &aws_sdk_dynamodb::config::ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    fn dynamodb_client_with(http_client: SharedHttpClient) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .http_client(http_client)
                .build(),
        )
    }

    #[test]
    fn creating_sdk_clients_does_not_build_a_connector_each_time() {
        let bare = CountsValidations::default();
        let bare_count = bare.0.clone();
        dynamodb_client_with(SharedHttpClient::new(bare));
        dynamodb_client_with(SharedHttpClient::new(CountsValidations(bare_count.clone())));
        assert_eq!(
            bare_count.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "without the wrapper, each client validates (builds) the connector"
        );

        let inner = CountsValidations::default();
        let count = inner.0.clone();
        let wrapped = SharedHttpClient::new(ConnectorOnFirstUse(SharedHttpClient::new(inner)));
        dynamodb_client_with(wrapped.clone());
        dynamodb_client_with(wrapped);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
