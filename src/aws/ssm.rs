//! Reading secrets from SSM SecureStrings: at cold start (the auth tokens, the signing keys, the Twilio API
//! key), and later for the signing keys' re-reads ([`SecureStrings`]).

use aws_config::SdkConfig;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;

use crate::aws::error::{BackendError, Service};
use crate::env::ConfigError;

/// SecureString reads with one SSM client, built once. Values are returned, never logged.
#[derive(Debug, Clone)]
pub struct SecureStrings {
    client: aws_sdk_ssm::Client,
}

impl SecureStrings {
    /// Reads with a client of `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        SecureStrings {
            client: aws_sdk_ssm::Client::new(sdk),
        }
    }

    /// The decrypted value of `name`; `None` when there is no such parameter. Errors carry SSM's code and
    /// message, never a value.
    pub async fn get(&self, name: &str) -> Result<Option<String>, BackendError> {
        let output = match self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) => {
                return match err.as_service_error() {
                    Some(GetParameterError::ParameterNotFound(_)) => Ok(None),
                    _ => Err(BackendError::from_sdk(Service::Ssm, err)),
                }
            }
        };
        Ok(output
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_owned))
    }
}

/// The decrypted value of the SecureString `parameter`. Errors name the parameter, never a value.
pub async fn secure_string(sdk: &SdkConfig, parameter: &str) -> Result<String, ConfigError> {
    required(&SecureStrings::new(sdk), parameter).await
}

/// The decrypted value of `parameter`, which must exist, read with `strings`: for a cold start.
pub async fn required(strings: &SecureStrings, parameter: &str) -> Result<String, ConfigError> {
    let ssm_error = |reason: String| ConfigError::Ssm {
        parameter: parameter.to_owned(),
        reason,
    };
    match strings.get(parameter).await {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(ssm_error(
            "no such parameter, or it has no value".to_owned(),
        )),
        Err(err) => Err(ssm_error(err.to_string())),
    }
}
