//! The grant: what a requester asks for, in the YAML file they add by pull request.
//!
//! These types are the one source of truth for the grant format: serde reads them, schemars
//! turns them into `schemas/grant.schema.json`, and the checks in `check/` work on them. Where
//! the grant applies (project, venue, name) is decided by its path, so
//! that approval by path through CODEOWNERS cannot be sidestepped by what the file says. The
//! file still names its project and venue, and a mismatch is an error, so that a grant copied
//! into another venue's folder is caught rather than silently retargeted.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::GrantDuration;

/// One grant file: who asks, for which access, for how long and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "stsgrant grant")]
pub struct Grant {
    /// The project this grant is for; must be the project folder the file is in.
    #[schemars(example = &"unity")]
    pub project: String,
    /// The venue this grant is for; must be the venue folder the file is in.
    #[schemars(example = &"dev")]
    pub venue: String,
    /// The person who asks for the credential and answers for its use.
    pub requester: Requester,
    /// The age public keys the credential is sealed to: an `age1…` key (from
    /// `age-keygen -y`) or an OpenSSH `ssh-ed25519` or `ssh-rsa` public key. Any one of the
    /// matching private keys can open the sealed credential.
    #[schemars(length(min = 1, max = 8))]
    #[schemars(example = &["age1696lrwjl3v22nzaqph2rvsqjll5jkv4r03mftnfurha5e9ze6v5srm3x9z"])]
    pub recipients: Vec<String>,
    /// The access wanted; the session policy allows these and nothing else. The venue
    /// catalog says which of them a venue offers.
    #[schemars(length(min = 1, max = 5))]
    pub access: Vec<AccessKind>,
    /// Narrows S3 access to keys under this prefix of the venue's bucket (no leading `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), pattern(r"^[A-Za-z0-9!_.*'()/-]+$"))]
    #[schemars(example = &"incoming/alice/")]
    pub s3_prefix: Option<String>,
    /// Narrows ECR access to repositories whose name, after the venue's prefix, matches this
    /// pattern (`*` and `?` are wildcards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200), pattern(r"^[a-z0-9._/*?-]+$"))]
    #[schemars(example = &"alice-*")]
    pub ecr_repositories: Option<String>,
    /// How long the credential stays valid once issued: hours, minutes and seconds such as
    /// `1h`, `90m` or `2h30m`. At least 15 minutes; the venue sets the maximum.
    pub duration: GrantDuration,
    /// Why the access is needed; shown to approvers and kept in the issuance record.
    #[schemars(length(min = 10, max = 500), pattern(r"^[^\x00-\x08\x0b-\x1f\x7f]*$"))]
    pub reason: String,
    /// The last day (UTC) on which the grant may be issued; after it the grant is void.
    #[schemars(extend("format" = "date"), example = &"2027-01-31")]
    pub not_after: String,
    /// The venue role's ExternalId, or better its fingerprint `sha256:<64 hex digits>`, so
    /// that the value itself stays out of git. When present, issuance refuses a venue whose
    /// ExternalId does not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
    /// Bump this number to ask for a fresh credential from an unchanged grant.
    #[serde(default = "first_revision")]
    #[schemars(range(min = 1, max = 9999))]
    pub revision: u32,
    /// Set to `true` to stop every credential issued for this grant that has not expired
    /// yet: `issue` then denies its sessions on the venue role. A revoked grant is never
    /// issued again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
}

fn first_revision() -> u32 {
    1
}

impl Grant {
    /// The STS session name for this grant issued on `day`: the requester's login, the grant's
    /// name and the date, and the revision when it is past the first, such as
    /// `alice-upload-20261203-r2`. CloudTrail shows it on every call made with the credential.
    pub fn session_name(&self, id: &GrantId, day: jiff::civil::Date) -> String {
        let mut name = format!(
            "{}-{}-{}",
            self.requester.login(),
            id.name,
            day.strftime("%Y%m%d")
        );
        if self.revision > 1 {
            name.push_str(&format!("-r{}", self.revision));
        }
        name
    }
}

/// The person behind a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// Full name, as colleagues know it.
    #[schemars(length(min = 1, max = 100), pattern(r"^[^\x00-\x1f\x7f]*$"))]
    pub name: String,
    /// Work email address.
    #[schemars(email, length(max = 254))]
    pub email: String,
    /// GitHub login, without the `@`. Names the session when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"))]
    pub github: Option<String>,
}

impl Requester {
    /// The short name that starts the session name: the GitHub login, or else the local part
    /// of the email address, lowercased and limited to what STS accepts in a session name.
    pub fn login(&self) -> String {
        let raw = match &self.github {
            Some(login) => login.as_str(),
            None => self.email.split('@').next().unwrap_or_default(),
        };
        raw.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '=' | ',' | '.' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }
}

/// A kind of access a grant can ask for. The venue catalog says which a venue offers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AccessKind {
    /// List and download objects in the venue's bucket.
    S3Read,
    /// Upload objects to the venue's bucket.
    S3Write,
    /// Create ECR repositories under the venue's repository prefix.
    EcrCreate,
    /// Push images to ECR repositories under the venue's repository prefix.
    EcrPush,
    /// Pull images from ECR repositories under the venue's repository prefix.
    EcrPull,
}

impl AccessKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [AccessKind; 5] = [
        AccessKind::S3Read,
        AccessKind::S3Write,
        AccessKind::EcrCreate,
        AccessKind::EcrPush,
        AccessKind::EcrPull,
    ];

    /// The name used in grant files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::S3Read => "s3-read",
            AccessKind::S3Write => "s3-write",
            AccessKind::EcrCreate => "ecr-create",
            AccessKind::EcrPush => "ecr-push",
            AccessKind::EcrPull => "ecr-pull",
        }
    }

    /// Whether this access works on the venue's S3 bucket.
    pub fn is_s3(self) -> bool {
        matches!(self, AccessKind::S3Read | AccessKind::S3Write)
    }
}

impl std::str::FromStr for AccessKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AccessKind::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = AccessKind::ALL.iter().map(|a| a.as_str()).collect();
                format!("`{text}` is not a kind of access; use {}", names.join(", "))
            })
    }
}

impl fmt::Display for AccessKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a grant sits in the repository: `grants/<project>/<venue>/<name>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GrantId {
    /// The project folder.
    pub project: String,
    /// The venue folder.
    pub venue: String,
    /// The file name without its extension.
    pub name: String,
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.project, self.venue, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requester(email: &str, github: Option<&str>) -> Requester {
        Requester {
            name: "Someone".to_owned(),
            email: email.to_owned(),
            github: github.map(str::to_owned),
        }
    }

    #[test]
    fn login_prefers_github_handle() {
        assert_eq!(
            requester("a@example.org", Some("Alice-X")).login(),
            "alice-x"
        );
    }

    #[test]
    fn login_falls_back_to_email_local_part_without_forbidden_characters() {
        assert_eq!(requester("o'brien.k@example.org", None).login(), "obrien.k");
    }

    #[test]
    fn access_kind_names_match_serde() {
        for kind in AccessKind::ALL {
            let yaml = yaml_serde::to_string(&kind).expect("an enum serializes");
            assert_eq!(yaml.trim(), kind.as_str());
        }
    }
}
