//! Reading a secret from an SSM SecureString at cold start (the auth tokens, the Twilio API key).

use aws_config::SdkConfig;

use crate::env::ConfigError;

/// The decrypted value of the SecureString `parameter`. Errors name the parameter, never a value.
pub async fn secure_string(sdk: &SdkConfig, parameter: &str) -> Result<String, ConfigError> {
    let ssm_error = |reason: String| ConfigError::Ssm {
        parameter: parameter.to_owned(),
        reason,
    };
    let output = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| ssm_error(aws_sdk_ssm::error::DisplayErrorContext(&err).to_string()))?;
    output
        .parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| ssm_error("the parameter has no value".into()))
}
