//! The venue catalog: what stands behind each `grants/<project>/<venue>/` folder.
//!
//! Admins keep it in `grants/venues.yaml`. A venue names the AWS account, the role to assume,
//! where its ExternalId is kept, the bucket and ECR prefix that access is narrowed to, and the
//! limits a grant must stay within. The role name and the parameter path are templates with
//! `{project}` and `{venue}` placeholders, defaulting to the `unity-<project>-<venue>-sts`
//! convention, so nothing about one organisation's naming is wired into the code.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::GrantDuration;
use crate::grant::AccessKind;

/// The role name used when neither the venue nor the catalog's defaults name one.
pub const DEFAULT_ROLE_NAME: &str = "unity-{project}-{venue}-sts";
/// The SSM parameter holding the ExternalId when neither the venue nor the defaults say.
pub const DEFAULT_EXTERNAL_ID_PARAMETER: &str = "/unity/{project}/{venue}/cs/sts/role/external-id";

/// The whole catalog file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "stsgrant venue catalog")]
pub struct Catalog {
    /// Templates that every venue inherits unless it sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// GitHub users or teams who own the catalog, the schemas and the workflows.
    #[serde(default)]
    #[schemars(inner(pattern(r"^@[A-Za-z0-9-]+(/[A-Za-z0-9._-]+)?$")))]
    pub admins: Vec<String>,
    /// One entry per `grants/<project>/<venue>/` folder.
    #[schemars(length(max = 10000))]
    pub venues: Vec<Venue>,
}

/// Catalog-wide templates; `{project}` and `{venue}` are replaced by the venue's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// IAM role name template.
    #[serde(default = "default_role_name")]
    #[schemars(length(min = 1, max = 64))]
    pub role_name: String,
    /// SSM parameter path template for the role's ExternalId.
    #[serde(default = "default_external_id_parameter")]
    #[schemars(pattern(r"^/[A-Za-z0-9_.{}/-]+$"), length(max = 1011))]
    pub external_id_parameter: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            role_name: default_role_name(),
            external_id_parameter: default_external_id_parameter(),
        }
    }
}

fn default_role_name() -> String {
    DEFAULT_ROLE_NAME.to_owned()
}

fn default_external_id_parameter() -> String {
    DEFAULT_EXTERNAL_ID_PARAMETER.to_owned()
}

/// One venue of one project, and the limits its grants live within.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Venue {
    /// The project folder name under `grants/`.
    #[schemars(pattern(r"^[a-z0-9][a-z0-9-]{0,31}$"))]
    pub project: String,
    /// The venue folder name under `grants/<project>/`.
    #[schemars(pattern(r"^[a-z0-9][a-z0-9-]{0,31}$"))]
    pub venue: String,
    /// The 12-digit AWS account id, quoted so YAML keeps leading zeros.
    #[schemars(example = &"123456789012")]
    pub account_id: String,
    /// The AWS partition of the account.
    #[serde(default)]
    pub partition: Partition,
    /// The region of the bucket, the ECR registry and the SSM parameter.
    #[schemars(pattern(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$"), example = &"us-west-2")]
    pub region: String,
    /// The role's full ARN, when it does not follow the catalog's role name template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The role name, when it does not follow the catalog's template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub role_name: Option<String>,
    /// The SSM parameter holding the ExternalId, when it does not follow the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id_parameter: Option<String>,
    /// The S3 bucket that `s3-read` and `s3-write` work on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))]
    pub bucket: Option<String>,
    /// The prefix of the ECR repositories that the `ecr-*` access works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9][a-z0-9._/-]{0,200}$"))]
    pub ecr_repository_prefix: Option<String>,
    /// The longest session a grant may ask for; at most the role's MaxSessionDuration.
    pub max_duration: GrantDuration,
    /// How many days ahead a grant's `not_after` may lie.
    #[serde(default = "default_max_grant_days")]
    #[schemars(range(min = 1, max = 366))]
    pub max_grant_days: u32,
    /// The access this venue offers; grants may ask for these only.
    #[schemars(length(min = 1))]
    pub allowed_access: Vec<AccessKind>,
    /// GitHub users (`@login`) or teams (`@org/team`) who approve this venue's grants.
    #[schemars(
        length(min = 1),
        inner(pattern(r"^@[A-Za-z0-9-]+(/[A-Za-z0-9._-]+)?$"))
    )]
    pub approvers: Vec<String>,
    /// Set `SourceIdentity` to the requester's login (the role's trust policy must allow
    /// `sts:SetSourceIdentity`).
    #[serde(default)]
    pub source_identity: bool,
    /// Tag the session with the requester and the grant (the trust policy must allow
    /// `sts:TagSession`).
    #[serde(default)]
    pub session_tags: bool,
}

fn default_max_grant_days() -> u32 {
    90
}

/// An AWS partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Partition {
    /// The commercial regions.
    #[default]
    #[serde(rename = "aws")]
    Aws,
    /// AWS GovCloud (US).
    #[serde(rename = "aws-us-gov")]
    AwsUsGov,
    /// The China regions.
    #[serde(rename = "aws-cn")]
    AwsCn,
}

impl Partition {
    /// The partition as it appears in ARNs.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsCn => "aws-cn",
        }
    }

    fn parse(text: &str) -> Option<Partition> {
        [Partition::Aws, Partition::AwsUsGov, Partition::AwsCn]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Catalog {
    /// The venue that a `grants/<project>/<venue>/` folder belongs to.
    pub fn find(&self, project: &str, venue: &str) -> Option<&Venue> {
        self.venues
            .iter()
            .find(|v| v.project == project && v.venue == venue)
    }

    /// The role ARN a venue's grants are issued from.
    pub fn role_arn(&self, venue: &Venue) -> String {
        if let Some(arn) = &venue.role_arn {
            return arn.clone();
        }
        let name = venue
            .role_name
            .as_deref()
            .unwrap_or(&self.defaults.role_name);
        format!(
            "arn:{}:iam::{}:role/{}",
            venue.partition,
            venue.account_id,
            fill(name, venue)
        )
    }

    /// The SSM parameter that holds a venue's ExternalId.
    pub fn external_id_parameter(&self, venue: &Venue) -> String {
        let template = venue
            .external_id_parameter
            .as_deref()
            .unwrap_or(&self.defaults.external_id_parameter);
        fill(template, venue)
    }
}

fn fill(template: &str, venue: &Venue) -> String {
    template
        .replace("{project}", &venue.project)
        .replace("{venue}", &venue.venue)
}

/// The parts of an IAM role ARN that stsgrant relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    /// The partition.
    pub partition: Partition,
    /// The 12-digit account id.
    pub account_id: String,
    /// The role name, after any path.
    pub role_name: String,
}

/// Why a role ARN is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleArnError {
    /// `arn:aws:iam:1234…` instead of `arn:aws:iam::1234…`.
    #[error("role ARN `{0}` has one colon after `iam` where IAM ARNs have two (IAM has no region)")]
    SingleColonAfterIam(String),
    /// Anything else.
    #[error(
        "`{0}` is not an IAM role ARN of the form `arn:<partition>:iam::<account-id>:role/<name>`"
    )]
    Malformed(String),
    /// A partition that does not exist.
    #[error("role ARN `{0}` names an unknown partition; use `aws`, `aws-us-gov` or `aws-cn`")]
    UnknownPartition(String),
}

impl RoleArnError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RoleArnError::SingleColonAfterIam(arn) => {
                Some(format!("write `{}`", arn.replacen(":iam:", ":iam::", 1)))
            }
            _ => None,
        }
    }
}

impl std::str::FromStr for RoleArn {
    type Err = RoleArnError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || RoleArnError::Malformed(text.to_owned());
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        if parts.len() == 5 && parts[2] == "iam" && parts[4].starts_with("role/") {
            return Err(RoleArnError::SingleColonAfterIam(text.to_owned()));
        }
        let [arn, partition, service, region, account_id, resource] = parts[..] else {
            return Err(malformed());
        };
        if arn != "arn" || service != "iam" || !region.is_empty() {
            return Err(malformed());
        }
        let partition = Partition::parse(partition)
            .ok_or_else(|| RoleArnError::UnknownPartition(text.to_owned()))?;
        if !is_account_id(account_id) {
            return Err(malformed());
        }
        let role_name = resource
            .strip_prefix("role/")
            .and_then(|path| path.rsplit('/').next())
            .filter(|name| !name.is_empty() && name.len() <= 64)
            .ok_or_else(malformed)?;
        Ok(RoleArn {
            partition,
            account_id: account_id.to_owned(),
            role_name: role_name.to_owned(),
        })
    }
}

/// Whether `text` is an AWS account id: exactly twelve ASCII digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arn_parts() {
        let arn: RoleArn = "arn:aws-us-gov:iam::123456789012:role/path/unity-a-b-sts"
            .parse()
            .expect("valid");
        assert_eq!(arn.partition, Partition::AwsUsGov);
        assert_eq!(arn.account_id, "123456789012");
        assert_eq!(arn.role_name, "unity-a-b-sts");
    }

    #[test]
    fn single_colon_after_iam_is_named_with_the_fix() {
        let error = "arn:aws:iam:123456789012:role/x"
            .parse::<RoleArn>()
            .expect_err("typo");
        assert_eq!(
            error,
            RoleArnError::SingleColonAfterIam("arn:aws:iam:123456789012:role/x".into())
        );
        assert_eq!(
            error.hint().as_deref(),
            Some("write `arn:aws:iam::123456789012:role/x`")
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        for text in [
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert_eq!(
                text.parse::<RoleArn>(),
                Err(RoleArnError::Malformed(text.into())),
                "{text}"
            );
        }
        assert_eq!(
            "arn:aws-eu:iam::123456789012:role/x".parse::<RoleArn>(),
            Err(RoleArnError::UnknownPartition(
                "arn:aws-eu:iam::123456789012:role/x".into()
            ))
        );
    }
}
