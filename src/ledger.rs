//! Issuance records: what was issued for which grant revision, so that it happens once.
//!
//! Every attempt to issue a grant revision first *claims* it by creating a record that must
//! not exist yet: a create-only `ssm:PutParameter` in the shared store, or in the local one a
//! file written whole and then hard-linked into place, which fails if the name exists (so a
//! run killed midway never leaves half a record). Of two runs racing for the same grant, only
//! one creation succeeds, and only that run calls STS. The record then moves to `issued`
//! (with the session name, AssumedRoleId, AccessKeyId and expiry; never a secret) or
//! `failed`.
//!
//! Failure window: a run that dies after claiming and before recording the outcome leaves a
//! `claimed` record. Until the lease runs out, later runs report it as in flight and leave it
//! alone; after that, a run claims the next attempt number (again create-only, so again only
//! one run wins) and issues afresh. The credential minted by the dead run, if any, was never
//! delivered and simply expires.
//!
//! Layout: `<root>/<project>/<venue>/<grant>/rev-<revision>-<digest>/attempt-<n>`, one JSON
//! record per attempt, so the history stays readable for `audit`.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError};

/// Where issuance records are kept.
#[derive(Clone)]
pub enum RecordStore {
    /// A folder of JSON files, for dry runs, tests and laptops.
    Files(PathBuf),
    /// SSM parameters under a path, shared by every run in every workflow.
    Ssm {
        /// The clients.
        aws: Arc<Aws>,
        /// The root path, such as `/stsgrant/records`.
        root: String,
    },
}

/// Where to keep records, as given on the command line: `file:DIR` or `ssm:/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `file:DIR`.
    Files(PathBuf),
    /// `ssm:/PATH`.
    Ssm(String),
}

impl std::str::FromStr for StoreSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(dir) = text.strip_prefix("file:").filter(|d| !d.is_empty()) {
            return Ok(StoreSpec::Files(PathBuf::from(dir)));
        }
        if let Some(path) = text.strip_prefix("ssm:") {
            let valid = path.starts_with('/')
                && path.len() > 1
                && !path.ends_with('/')
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c));
            if valid {
                return Ok(StoreSpec::Ssm(path.to_owned()));
            }
        }
        Err(format!(
            "`{text}` is not a record store; use `file:DIR` or `ssm:/PATH`"
        ))
    }
}

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Claimed by a run that has not recorded the outcome yet.
    Claimed,
    /// Sealed and delivered.
    Issued,
    /// Tried and failed; the next run may try again.
    Failed,
}

/// One attempt to issue one grant revision. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuanceRecord {
    /// `project/venue/name`.
    pub grant: String,
    /// The grant file's path in the repository.
    pub path: String,
    /// `sha256:` of the grant file's bytes.
    pub digest: String,
    /// The grant's revision counter.
    pub revision: u32,
    /// 1 for the first attempt at this revision.
    pub attempt: u32,
    /// Where the attempt stands.
    pub status: Status,
    /// The requester's email address.
    pub requester: String,
    /// The STS session name.
    pub session_name: String,
    /// The role assumed.
    pub role_arn: String,
    /// Fingerprints of the recipients the credential was sealed to.
    pub recipients: Vec<String>,
    /// The commit of the repository the run worked from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// When the attempt was claimed.
    pub claimed_at: Timestamp,
    /// When the outcome was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// The session's AssumedRoleId, for joining with CloudTrail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed_role_id: Option<String>,
    /// The credential's access key id (not secret), for joining with CloudTrail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// When the credential expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Timestamp>,
    /// Why the attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When the credential's session was denied on the role, after the grant was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

impl IssuanceRecord {
    /// The folder of this grant revision's attempts, relative to the store's root.
    pub fn revision_key(&self) -> String {
        revision_key(&self.grant, self.revision, &self.digest)
    }
}

/// The folder of one grant revision's attempts, relative to the store's root.
pub fn revision_key(grant: &str, revision: u32, digest: &str) -> String {
    let short = digest.strip_prefix("sha256:").unwrap_or(digest);
    let short = &short[..short.len().min(16)];
    format!("{grant}/rev-{revision}-{short}")
}

/// A failure of the record store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A local file could not be read or written.
    #[error("cannot {action} issuance record `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The SSM store failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A record that is not one of ours.
    #[error("issuance record `{0}` is not valid JSON of a record")]
    Corrupt(String),
}

/// What the records say about one grant revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Nothing issued yet; the next attempt has this number.
    Open {
        /// The attempt number to claim.
        next_attempt: u32,
    },
    /// Issued already.
    Issued(Box<IssuanceRecord>),
    /// Claimed by a run that may still be working on it.
    InFlight(Box<IssuanceRecord>),
}

/// Decides a revision's state from its attempts: a claim younger than `lease` is in flight.
pub fn state(attempts: &[IssuanceRecord], now: Timestamp, lease: jiff::SignedDuration) -> State {
    if let Some(issued) = attempts.iter().find(|r| r.status == Status::Issued) {
        return State::Issued(Box::new(issued.clone()));
    }
    let last = attempts.iter().max_by_key(|r| r.attempt);
    match last {
        Some(r) if r.status == Status::Claimed && now.duration_since(r.claimed_at) < lease => {
            State::InFlight(Box::new(r.clone()))
        }
        Some(r) => State::Open {
            next_attempt: r.attempt + 1,
        },
        None => State::Open { next_attempt: 1 },
    }
}

impl RecordStore {
    /// Opens the store a spec names.
    pub fn open(spec: &StoreSpec, aws: Option<Arc<Aws>>) -> Option<RecordStore> {
        match spec {
            StoreSpec::Files(dir) => Some(RecordStore::Files(dir.clone())),
            StoreSpec::Ssm(root) => aws.map(|aws| RecordStore::Ssm {
                aws,
                root: root.clone(),
            }),
        }
    }

    /// Every record of one grant (`project/venue/name`), across its revisions.
    pub async fn grant_records(&self, grant: &str) -> Result<Vec<IssuanceRecord>, StoreError> {
        let store = match self {
            RecordStore::Files(dir) => RecordStore::Files(dir.join(grant)),
            RecordStore::Ssm { aws, root } => RecordStore::Ssm {
                aws: Arc::clone(aws),
                root: format!("{root}/{grant}"),
            },
        };
        store.all().await
    }

    /// Every attempt recorded for one grant revision, by attempt number.
    pub async fn attempts(&self, revision_key: &str) -> Result<Vec<IssuanceRecord>, StoreError> {
        let mut records = Vec::new();
        match self {
            RecordStore::Files(dir) => {
                let folder = dir.join(revision_key);
                let entries = match fs::read_dir(&folder) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(records),
                    Err(source) => {
                        return Err(StoreError::Io {
                            action: "list",
                            path: folder,
                            source,
                        });
                    }
                };
                for entry in entries.filter_map(Result::ok) {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "json") {
                        records.push(read_record_file(&path)?);
                    }
                }
            }
            RecordStore::Ssm { aws, root } => {
                let path = format!("{root}/{revision_key}");
                for (name, value) in aws.parameters_under(&aws.default_region(), &path).await? {
                    records.push(parse_record(&name, &value)?);
                }
            }
        }
        records.sort_by_key(|r| r.attempt);
        Ok(records)
    }

    /// Every record in the store.
    pub async fn all(&self) -> Result<Vec<IssuanceRecord>, StoreError> {
        let mut records = Vec::new();
        match self {
            RecordStore::Files(dir) => {
                let mut folders = vec![dir.clone()];
                while let Some(folder) = folders.pop() {
                    let Ok(entries) = fs::read_dir(&folder) else {
                        continue;
                    };
                    for entry in entries.filter_map(Result::ok) {
                        let path = entry.path();
                        if path.is_dir() {
                            folders.push(path);
                        } else if path.extension().is_some_and(|e| e == "json") {
                            records.push(read_record_file(&path)?);
                        }
                    }
                }
            }
            RecordStore::Ssm { aws, root } => {
                for (name, value) in aws.parameters_under(&aws.default_region(), root).await? {
                    records.push(parse_record(&name, &value)?);
                }
            }
        }
        records.sort_by(|a, b| (a.claimed_at, &a.grant).cmp(&(b.claimed_at, &b.grant)));
        Ok(records)
    }

    /// Claims an attempt: creates its record only if it does not exist. `Ok(false)` means
    /// another run claimed it first.
    pub async fn claim(&self, record: &IssuanceRecord) -> Result<bool, StoreError> {
        let json = serde_json::to_string(record).expect("a record serializes");
        match self {
            RecordStore::Files(dir) => {
                let path = self.file_path(dir, record);
                crate::output::create_atomically(&path, json.as_bytes(), 0o644).map_err(|source| {
                    StoreError::Io {
                        action: "create",
                        path,
                        source,
                    }
                })
            }
            RecordStore::Ssm { aws, root } => {
                let name = ssm_name(root, record);
                Ok(aws
                    .create_parameter(&aws.default_region(), &name, &json)
                    .await?)
            }
        }
    }

    /// Records the outcome of an attempt this run claimed.
    pub async fn finish(&self, record: &IssuanceRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).expect("a record serializes");
        match self {
            RecordStore::Files(dir) => {
                let path = self.file_path(dir, record);
                crate::output::write_atomically(&path, json.as_bytes(), 0o644).map_err(|source| {
                    StoreError::Io {
                        action: "write",
                        path,
                        source,
                    }
                })
            }
            RecordStore::Ssm { aws, root } => Ok(aws
                .overwrite_parameter(&aws.default_region(), &ssm_name(root, record), &json)
                .await?),
        }
    }

    fn file_path(&self, dir: &std::path::Path, record: &IssuanceRecord) -> PathBuf {
        dir.join(record.revision_key())
            .join(format!("attempt-{}.json", record.attempt))
    }
}

fn ssm_name(root: &str, record: &IssuanceRecord) -> String {
    format!(
        "{root}/{}/attempt-{}",
        record.revision_key(),
        record.attempt
    )
}

fn read_record_file(path: &std::path::Path) -> Result<IssuanceRecord, StoreError> {
    let text = fs::read_to_string(path).map_err(|source| StoreError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    parse_record(&path.display().to_string(), &text)
}

fn parse_record(name: &str, text: &str) -> Result<IssuanceRecord, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attempt: u32, status: Status, claimed_at: &str) -> IssuanceRecord {
        IssuanceRecord {
            grant: "unity/dev/alice".into(),
            path: "grants/unity/dev/alice.yaml".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            revision: 1,
            attempt,
            status,
            requester: "alice@example.org".into(),
            session_name: "alice-alice-20261203".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            recipients: vec![],
            commit: None,
            claimed_at: claimed_at.parse().expect("valid timestamp"),
            finished_at: None,
            assumed_role_id: None,
            access_key_id: None,
            expiration: None,
            failure: None,
            revoked_at: None,
        }
    }

    #[test]
    fn store_specs() {
        assert_eq!(
            "file:out/records".parse(),
            Ok(StoreSpec::Files("out/records".into()))
        );
        assert_eq!(
            "ssm:/stsgrant/records".parse(),
            Ok(StoreSpec::Ssm("/stsgrant/records".into()))
        );
        for bad in ["ssm:stsgrant", "ssm:/a/", "s3://x", "file:", "ssm:/a b"] {
            assert_eq!(
                bad.parse::<StoreSpec>(),
                Err(format!(
                    "`{bad}` is not a record store; use `file:DIR` or `ssm:/PATH`"
                ))
            );
        }
    }

    #[test]
    fn states_follow_the_attempts() {
        let now: Timestamp = "2026-12-03T12:00:00Z".parse().expect("valid");
        let lease = jiff::SignedDuration::from_mins(15);
        assert_eq!(state(&[], now, lease), State::Open { next_attempt: 1 });
        let fresh = record(1, Status::Claimed, "2026-12-03T11:50:00Z");
        assert!(matches!(
            state(std::slice::from_ref(&fresh), now, lease),
            State::InFlight(_)
        ));
        let stale = record(1, Status::Claimed, "2026-12-03T11:00:00Z");
        assert_eq!(state(&[stale], now, lease), State::Open { next_attempt: 2 });
        let failed = record(1, Status::Failed, "2026-12-03T11:59:00Z");
        assert_eq!(
            state(std::slice::from_ref(&failed), now, lease),
            State::Open { next_attempt: 2 }
        );
        let issued = record(2, Status::Issued, "2026-12-03T11:59:30Z");
        assert_eq!(
            state(&[failed, issued.clone()], now, lease),
            State::Issued(Box::new(issued))
        );
    }

    #[test]
    fn revision_keys_name_grant_revision_and_digest() {
        assert_eq!(
            revision_key(
                "unity/dev/alice",
                2,
                &format!("sha256:{}", "0123456789abcdef".repeat(4))
            ),
            "unity/dev/alice/rev-2-0123456789abcdef"
        );
    }
}
