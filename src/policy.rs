//! The inline session policy: a grant's access list turned into an IAM policy document.
//!
//! A session policy can only narrow what the venue role allows, never widen it, so the
//! document names exactly the actions each access needs, on the venue's bucket (and the
//! grant's key prefix) or the venue's ECR repositories (and the grant's name pattern). STS
//! accepts at most 2048 characters of policy text, counted without whitespace; the validator
//! checks the length before anything is sent.

use serde::Serialize;

use crate::grant::{AccessKind, Grant};
use crate::venue::Venue;

/// The most characters of inline session policy STS accepts.
pub const MAX_POLICY_CHARS: usize = 2048;

/// Why no session policy can be made for a grant in a venue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// S3 access asked for in a venue without a bucket.
    #[error("`{0}` needs a bucket, and the venue has none")]
    NoBucket(AccessKind),
}

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    version: &'static str,
    statement: Vec<Statement>,
}

/// One `Allow` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    sid: &'static str,
    effect: &'static str,
    action: Vec<&'static str>,
    resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<Condition>,
}

/// `{"StringLike": {"s3:prefix": [...]}}`, the only condition stsgrant writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Condition {
    #[serde(rename = "StringLike")]
    string_like: PrefixCondition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct PrefixCondition {
    #[serde(rename = "s3:prefix")]
    prefix: Vec<String>,
}

fn allow(sid: &'static str, action: &[&'static str], resource: String) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        action: action.to_vec(),
        resource,
        condition: None,
    }
}

/// The session policy for `grant` in `venue`.
pub fn session_policy(grant: &Grant, venue: &Venue) -> Result<Policy, PolicyError> {
    let mut statements = Vec::new();
    let partition = venue.partition.as_str();
    let mut access = grant.access.clone();
    access.sort();
    access.dedup();

    let s3_read = access.contains(&AccessKind::S3Read);
    let s3_write = access.contains(&AccessKind::S3Write);
    if s3_read || s3_write {
        let kind = if s3_read {
            AccessKind::S3Read
        } else {
            AccessKind::S3Write
        };
        let bucket = venue.bucket.as_deref().ok_or(PolicyError::NoBucket(kind))?;
        let prefix = grant.s3_prefix.as_deref().unwrap_or("");
        let objects = format!("arn:{partition}:s3:::{bucket}/{prefix}*");
        let mut list = allow(
            "ListBucket",
            &["s3:ListBucket", "s3:GetBucketLocation"],
            format!("arn:{partition}:s3:::{bucket}"),
        );
        if !prefix.is_empty() {
            let string_like = PrefixCondition {
                prefix: vec![format!("{prefix}*")],
            };
            list.condition = Some(Condition { string_like });
        }
        statements.push(list);
        if s3_read {
            let actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"];
            statements.push(allow("S3Read", &actions, objects.clone()));
        }
        if s3_write {
            let actions = [
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ];
            statements.push(allow("S3Write", &actions, objects));
        }
    }

    let ecr: Vec<AccessKind> = access.iter().copied().filter(|a| !a.is_s3()).collect();
    if !ecr.is_empty() {
        let prefix = venue.ecr_repository_prefix.as_deref().unwrap_or("");
        let pattern = grant.ecr_repositories.as_deref().unwrap_or("*");
        let repositories = format!(
            "arn:{partition}:ecr:{}:{}:repository/{prefix}{pattern}",
            venue.region, venue.account_id
        );
        statements.push(allow(
            "EcrLogin",
            &["ecr:GetAuthorizationToken"],
            "*".to_owned(),
        ));
        let mut actions: Vec<&'static str> = Vec::new();
        for kind in ecr {
            actions.extend(match kind {
                AccessKind::EcrCreate => &["ecr:CreateRepository", "ecr:DescribeRepositories"][..],
                AccessKind::EcrPush => &[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                ][..],
                AccessKind::EcrPull => &[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:DescribeImages",
                    "ecr:ListImages",
                ][..],
                AccessKind::S3Read | AccessKind::S3Write => &[][..],
            });
        }
        actions.sort_unstable();
        actions.dedup();
        statements.push(allow("EcrRepositories", &actions, repositories));
    }

    Ok(Policy {
        version: "2012-10-17",
        statement: statements,
    })
}

impl Policy {
    /// The policy as STS receives it: compact JSON, whose length counts against the limit.
    pub fn compact(&self) -> String {
        serde_json::to_string(self).expect("a policy of strings serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::GrantDuration;
    use crate::grant::Requester;
    use crate::venue::Partition;

    fn venue() -> Venue {
        Venue {
            project: "unity".into(),
            venue: "dev".into(),
            account_id: "123456789012".into(),
            partition: Partition::AwsUsGov,
            region: "us-gov-west-1".into(),
            role_arn: None,
            role_name: None,
            external_id_parameter: None,
            bucket: Some("data".into()),
            ecr_repository_prefix: Some("unity-dev/".into()),
            max_duration: GrantDuration::from_secs(3600),
            max_grant_days: 30,
            allowed_access: AccessKind::ALL.to_vec(),
            approvers: vec!["@admins".into()],
            source_identity: false,
            session_tags: false,
        }
    }

    fn grant(access: &[AccessKind]) -> Grant {
        Grant {
            project: "unity".into(),
            venue: "dev".into(),
            requester: Requester {
                name: "A".into(),
                email: "a@example.org".into(),
                github: None,
            },
            recipients: vec![],
            access: access.to_vec(),
            s3_prefix: Some("in/a/".into()),
            ecr_repositories: Some("a-*".into()),
            duration: GrantDuration::from_secs(3600),
            reason: "testing the policy".into(),
            not_after: "2027-01-01".into(),
            external_id: None,
            revision: 1,
            revoked: false,
        }
    }

    #[test]
    fn s3_read_is_narrowed_to_the_prefix() {
        let policy =
            session_policy(&grant(&[AccessKind::S3Read]), &venue()).expect("venue has a bucket");
        assert_eq!(
            policy.compact(),
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"ListBucket","Effect":"Allow","Action":["s3:ListBucket","s3:GetBucketLocation"],"Resource":"arn:aws-us-gov:s3:::data","Condition":{"StringLike":{"s3:prefix":["in/a/*"]}}},{"Sid":"S3Read","Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion","s3:GetObjectTagging"],"Resource":"arn:aws-us-gov:s3:::data/in/a/*"}]}"#
        );
    }

    #[test]
    fn ecr_access_is_merged_into_one_statement_on_the_pattern() {
        let policy = session_policy(
            &grant(&[AccessKind::EcrPull, AccessKind::EcrPush]),
            &venue(),
        )
        .expect("no bucket needed");
        let policy: serde_json::Value = serde_json::from_str(&policy.compact()).expect("JSON");
        let statements = policy["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 2);
        assert_eq!(
            statements[0]["Action"],
            serde_json::json!(["ecr:GetAuthorizationToken"])
        );
        assert_eq!(
            statements[1]["Resource"],
            "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/unity-dev/a-*"
        );
        assert_eq!(statements[1]["Action"].as_array().map(Vec::len), Some(9));
        assert!(
            statements[1]["Action"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|a| a != "ecr:CreateRepository")
        );
    }

    #[test]
    fn every_access_together_fits_the_limit() {
        let policy =
            session_policy(&grant(&AccessKind::ALL), &venue()).expect("venue has a bucket");
        assert!(
            policy.compact().len() < MAX_POLICY_CHARS,
            "{}",
            policy.compact().len()
        );
    }

    #[test]
    fn s3_access_needs_a_bucket() {
        let mut venue = venue();
        venue.bucket = None;
        assert_eq!(
            session_policy(&grant(&[AccessKind::S3Write]), &venue),
            Err(PolicyError::NoBucket(AccessKind::S3Write))
        );
    }
}
