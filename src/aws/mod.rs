//! The only place that talks to AWS: STS for identities and sessions, SSM for ExternalIds and
//! issuance records.
//!
//! Clients come from the SDK's default chain (environment keys, profiles, SSO, web identity
//! from CI's OIDC), so the same binary works in a workflow and on an admin's laptop.
//! `AWS_ENDPOINT_URL` points every client at another endpoint, such as a local test server.
//! Throttling and transient faults are retried by the SDK's standard retry policy with
//! backoff; errors that a retry cannot fix (access denied, expired token, validation) are
//! returned at once.

pub mod iam;
pub mod ssm;
pub mod sts;

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The code given to errors where no credentials could be found at all.
const NO_CREDENTIALS: &str = "NoCredentials";

/// How many times a throttled or transiently failed call is tried in all.
const MAX_ATTEMPTS: u32 = 5;

/// A failed AWS call, named by its operation, with AWS's error code when it gave one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    /// The API operation, such as `sts:AssumeRole`.
    pub operation: &'static str,
    /// AWS's error code, such as `AccessDenied` or `ParameterNotFound`.
    pub code: Option<String>,
    /// What AWS or the connection said.
    pub message: String,
}

impl AwsError {
    pub(crate) fn from_sdk<E, R>(
        operation: &'static str,
        error: aws_sdk_sts::error::SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let mut code = error.code().map(str::to_owned);
        let message = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("`{code}`: {message}"),
            (Some(code), None) => format!("`{code}`"),
            _ => {
                // The full context ends in the Debug form of every layer; the first sentences
                // say what happened, the rest is noise for a person.
                let full = DisplayErrorContext(&error).to_string();
                if full.contains("credentials")
                    && (full.contains("provider") || full.contains("chain"))
                {
                    code = Some(NO_CREDENTIALS.to_owned());
                    "no AWS credentials could be loaded".to_owned()
                } else {
                    let short = full.split(" (").next().unwrap_or(&full);
                    short.chars().take(300).collect()
                }
            }
        };
        AwsError {
            operation,
            code,
            message,
        }
    }

    /// What the person running stsgrant can do about it, for the errors that have a fix.
    pub fn hint(&self) -> Option<&'static str> {
        match self.code.as_deref()? {
            "AccessDenied" | "AccessDeniedException" => {
                Some("check that the caller may call this operation and that the role trusts it")
            }
            "ExpiredToken" | "ExpiredTokenException" => {
                Some("refresh the AWS credentials stsgrant runs with")
            }
            NO_CREDENTIALS => Some(
                "set `AWS_PROFILE` or `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or configure OIDC in the workflow",
            ),
            "ParameterNotFound" => Some(
                "create the ExternalId parameter, or fix `external_id_parameter` in the catalog",
            ),
            "RegionDisabledException" => {
                Some("activate STS in this region in the account settings")
            }
            "PackedPolicyTooLarge" => Some("ask for fewer kinds of access in one grant"),
            _ => None,
        }
    }
}

/// AWS clients for every region the venues use, sharing one credential chain.
pub struct Aws {
    config: SdkConfig,
    sts: Mutex<HashMap<String, aws_sdk_sts::Client>>,
    ssm: Mutex<HashMap<String, aws_sdk_ssm::Client>>,
}

impl Aws {
    /// Loads the shared configuration from the environment, as the AWS CLI would.
    pub async fn from_env() -> Aws {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        Aws {
            config,
            sts: Mutex::default(),
            ssm: Mutex::default(),
        }
    }

    /// The STS client for `region`.
    pub fn sts(&self, region: &str) -> aws_sdk_sts::Client {
        let mut clients = self
            .sts
            .lock()
            .expect("no thread panics while holding the client map");
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_sts::config::Builder::from(&self.config)
                    .region(Region::new(region.to_owned()));
                aws_sdk_sts::Client::from_conf(config.build())
            })
            .clone()
    }

    /// The SSM client for `region`.
    pub fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        let mut clients = self
            .ssm
            .lock()
            .expect("no thread panics while holding the client map");
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_ssm::config::Builder::from(&self.config)
                    .region(Region::new(region.to_owned()));
                aws_sdk_ssm::Client::from_conf(config.build())
            })
            .clone()
    }

    /// The region the environment names, used for calls that belong to no venue.
    pub fn default_region(&self) -> String {
        self.config
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.as_ref().to_owned())
    }
}
