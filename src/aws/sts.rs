//! STS: who stsgrant runs as, and `sts:AssumeRole` for a grant.

use aws_sdk_sts::types::Tag;

use super::{Aws, AwsError};
use crate::credential::Credential;
use crate::secret::SecretString;

/// Who the AWS credentials stsgrant runs with belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account of the caller.
    pub account_id: String,
    /// The caller's ARN.
    pub arn: String,
}

impl Caller {
    /// Whether the caller is itself an assumed role, in which case STS caps any role it
    /// assumes next at one hour (role chaining). CI's OIDC credentials always are.
    pub fn is_assumed_role(&self) -> bool {
        self.arn
            .split(':')
            .nth(5)
            .is_some_and(|resource| resource.starts_with("assumed-role/"))
    }
}

/// Everything an `sts:AssumeRole` call for one grant sends.
#[derive(Debug)]
pub struct AssumeRole {
    /// The venue's role.
    pub role_arn: String,
    /// Names the requester and the day.
    pub session_name: String,
    /// Read from SSM just before; never shown.
    pub external_id: SecretString,
    /// Seconds the credential lives.
    pub duration_seconds: u32,
    /// The inline session policy, compact JSON.
    pub policy: String,
    /// The requester's login, where the venue enables it.
    pub source_identity: Option<String>,
    /// Session tags, where the venue enables them.
    pub tags: Vec<(String, String)>,
}

impl Aws {
    /// `sts:GetCallerIdentity` in the default region.
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        let output = self
            .sts(&self.default_region())
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts:GetCallerIdentity", e))?;
        Ok(Caller {
            account_id: output.account.unwrap_or_default(),
            arn: output.arn.unwrap_or_default(),
        })
    }

    /// `sts:AssumeRole` in `region`.
    pub async fn assume_role(
        &self,
        region: &str,
        request: &AssumeRole,
    ) -> Result<Credential, AwsError> {
        let operation = "sts:AssumeRole";
        let mut call = self
            .sts(region)
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .external_id(request.external_id.expose())
            .duration_seconds(i32::try_from(request.duration_seconds).unwrap_or(i32::MAX))
            .policy(&request.policy);
        if let Some(identity) = &request.source_identity {
            call = call.source_identity(identity);
        }
        for (key, value) in &request.tags {
            let tag = Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| AwsError {
                    operation,
                    code: None,
                    message: e.to_string(),
                })?;
            call = call.tags(tag);
        }
        let output = call
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(operation, e))?;
        let missing = |what: &str| AwsError {
            operation,
            code: None,
            message: format!("the answer has no {what}"),
        };
        let credentials = output.credentials.ok_or_else(|| missing("credentials"))?;
        let user = output
            .assumed_role_user
            .ok_or_else(|| missing("assumed role user"))?;
        let expiration = jiff::Timestamp::from_second(credentials.expiration.secs())
            .map_err(|_| missing("valid expiration"))?;
        // NOTE: STS marks `PackedPolicySize` deprecated, but `aws sts assume-role` still prints
        // it where STS returns it, and the delivered JSON keeps that shape.
        #[allow(deprecated)]
        let packed_policy_size = output.packed_policy_size;
        Ok(Credential {
            access_key_id: credentials.access_key_id,
            secret_access_key: SecretString::new(credentials.secret_access_key),
            session_token: SecretString::new(credentials.session_token),
            expiration,
            assumed_role_id: user.assumed_role_id,
            arn: user.arn,
            packed_policy_size,
            source_identity: output.source_identity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_roles_are_told_from_users() {
        let caller = |arn: &str| Caller {
            account_id: "123456789012".into(),
            arn: arn.into(),
        };
        assert!(caller("arn:aws:sts::123456789012:assumed-role/ci/gh-run").is_assumed_role());
        assert!(!caller("arn:aws:iam::123456789012:user/admin").is_assumed_role());
        assert!(!caller("arn:aws:iam::123456789012:root").is_assumed_role());
    }
}
