//! `stsgrant issue`: runs a plan, one grant at a time per worker, and reports every outcome.
//!
//! For each grant to issue: claim the revision in the record store (so no other run issues
//! it), read the venue's ExternalId from SSM and check it against the grant's, call
//! `sts:AssumeRole`, seal the credential JSON to the grant's recipients, write the sealed file
//! atomically with mode 0600, and record the outcome. The plaintext exists only in memory,
//! in buffers that are zeroized when dropped. One grant's failure never stops the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::sts::AssumeRole;
use crate::aws::{Aws, AwsError};
use crate::ledger::{IssuanceRecord, RecordStore, Status};
use crate::output::{sweep_temporary_files, write_atomically};
use crate::plan::{Action, Plan, PlannedGrant};
use crate::seal::{self, Recipient};
use crate::secret::SecretString;

/// How `issue` runs.
#[derive(Debug, Clone)]
pub struct IssueOptions {
    /// Where sealed files go: `<out>/<project>/<venue>/<name>.age`.
    pub out_dir: PathBuf,
    /// How many grants are issued at once.
    pub jobs: usize,
    /// The commit the run works from, for the records and the manifest.
    pub commit: Option<String>,
    /// How old a temporary file must be before it is taken for one a dead run left.
    pub stale: std::time::Duration,
}

/// How one grant ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Sealed and written.
    Issued {
        /// The sealed file.
        file: PathBuf,
        /// The session.
        session_name: String,
        /// When the credential expires.
        expiration: Timestamp,
        /// SHA-256 of the sealed file, hex.
        sha256: String,
    },
    /// Nothing to do, or another run is doing it.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Refused before any call to STS.
    Refused {
        /// Why.
        reason: String,
    },
    /// The grant is revoked, and these sessions are now denied on the role.
    Revoked {
        /// The sessions denied.
        sessions: Vec<String>,
    },
    /// Tried and failed; a later run tries again.
    Failed {
        /// Why.
        reason: String,
        /// What to do, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
}

impl Outcome {
    /// Whether the grant was asked for and not issued.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Refused { .. } | Outcome::Failed { .. })
    }
}

/// A grant and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct GrantOutcome {
    /// Project, venue and name.
    pub grant: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Issues every grant the plan says to issue; other grants get their skip or refusal.
pub async fn issue(
    plan: &Plan,
    aws: Arc<Aws>,
    records: RecordStore,
    options: &IssueOptions,
) -> Vec<GrantOutcome> {
    sweep_temporary_files(&options.out_dir, options.stale);
    if let RecordStore::Files(dir) = &records {
        sweep_temporary_files(dir, options.stale);
    }
    let mut outcomes = crate::revoke::revoke(plan, &aws, &records).await;
    let external_ids = read_external_ids(plan, &aws).await;
    let limit = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut tasks = JoinSet::new();
    for planned in &plan.grants {
        if matches!(planned.action, Action::Revoke { .. }) {
            continue;
        }
        let Action::Issue { attempt } = planned.action else {
            outcomes.push(GrantOutcome {
                grant: planned.grant.clone(),
                outcome: not_issued(&planned.action),
            });
            continue;
        };
        let external_id = external_ids
            .get(&(
                planned.region.clone(),
                planned.external_id_parameter.clone(),
            ))
            .cloned();
        let job = Job {
            planned: planned.clone(),
            attempt,
            external_id,
            aws: Arc::clone(&aws),
            records: records.clone(),
            options: options.clone(),
        };
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let grant = job.planned.grant.clone();
            GrantOutcome {
                grant,
                outcome: job.run().await,
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => tracing::error!("an issuing task stopped unexpectedly: {error}"),
        }
    }
    outcomes.sort_by(|a, b| a.grant.cmp(&b.grant));
    outcomes
}

fn not_issued(action: &Action) -> Outcome {
    match action {
        Action::AlreadyIssued { session_name, .. } => Outcome::Skipped {
            reason: format!("already issued as session `{session_name}`"),
        },
        Action::InFlight { claimed_at } => Outcome::Skipped {
            reason: format!("claimed by another run at {claimed_at}"),
        },
        Action::Expired { not_after } => Outcome::Skipped {
            reason: format!("expired after {not_after}"),
        },
        Action::Refused { reason } | Action::NotIssuable { reason } => Outcome::Refused {
            reason: reason.clone(),
        },
        Action::Revoked => Outcome::Skipped {
            reason: "revoked; nothing issued for it is still valid".to_owned(),
        },
        Action::Issue { .. } | Action::Revoke { .. } => Outcome::Skipped {
            reason: "not run".to_owned(),
        },
    }
}

type ExternalIds = HashMap<(String, String), Result<SecretString, AwsError>>;

/// Reads each venue's ExternalId once, for every venue that has a grant to issue.
async fn read_external_ids(plan: &Plan, aws: &Arc<Aws>) -> ExternalIds {
    let mut wanted: Vec<(String, String)> = plan
        .grants
        .iter()
        .filter(|g| matches!(g.action, Action::Issue { .. }))
        .map(|g| (g.region.clone(), g.external_id_parameter.clone()))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut tasks = JoinSet::new();
    for key in wanted {
        let aws = Arc::clone(aws);
        tasks.spawn(async move {
            let value = aws.external_id(&key.0, &key.1).await;
            (key, value)
        });
    }
    let mut found = HashMap::new();
    while let Some(Ok((key, value))) = tasks.join_next().await {
        tracing::debug!(parameter = %key.1, ok = value.is_ok(), "read ExternalId");
        found.insert(key, value);
    }
    found
}

struct Job {
    planned: PlannedGrant,
    attempt: u32,
    external_id: Option<Result<SecretString, AwsError>>,
    aws: Arc<Aws>,
    records: RecordStore,
    options: IssueOptions,
}

impl Job {
    async fn run(self) -> Outcome {
        let planned = &self.planned;
        let recipients: Result<Vec<Recipient>, _> = planned
            .recipients
            .iter()
            .map(|r| Recipient::from_str(r))
            .collect();
        let recipients = match recipients {
            Ok(recipients) => recipients,
            Err(error) => {
                return Outcome::Refused {
                    reason: error.to_string(),
                };
            }
        };
        let mut record = IssuanceRecord {
            grant: planned.grant.clone(),
            path: planned.path.clone(),
            digest: planned.digest.clone(),
            revision: planned.revision,
            attempt: self.attempt,
            status: Status::Claimed,
            requester: planned.requester.clone(),
            session_name: planned.session_name.clone(),
            role_arn: planned.role_arn.clone(),
            recipients: recipients.iter().map(Recipient::fingerprint).collect(),
            commit: self.options.commit.clone(),
            claimed_at: Timestamp::now(),
            finished_at: None,
            assumed_role_id: None,
            access_key_id: None,
            expiration: None,
            failure: None,
            revoked_at: None,
        };
        match self.records.claim(&record).await {
            Ok(true) => tracing::debug!(grant = %planned.grant, attempt = self.attempt, "claimed"),
            Ok(false) => {
                return Outcome::Skipped {
                    reason: "claimed by another run".to_owned(),
                };
            }
            Err(error) => {
                return Outcome::Failed {
                    reason: error.to_string(),
                    hint: None,
                };
            }
        }

        let outcome = self.deliver(&recipients, &mut record).await;

        record.finished_at = Some(Timestamp::now());
        match &outcome {
            Outcome::Issued { .. } => record.status = Status::Issued,
            Outcome::Failed { reason, .. } | Outcome::Refused { reason } => {
                record.status = Status::Failed;
                record.failure = Some(reason.clone());
            }
            Outcome::Skipped { .. } | Outcome::Revoked { .. } => {}
        }
        if let Err(error) = self.records.finish(&record).await {
            tracing::warn!(grant = %planned.grant, "the outcome could not be recorded: {error}");
            if matches!(outcome, Outcome::Issued { .. }) {
                return Outcome::Failed {
                    reason: format!(
                        "issued and sealed, but the record could not be written: {error}"
                    ),
                    hint: Some(
                        "the claim stays until its lease runs out; a later run then issues again"
                            .to_owned(),
                    ),
                };
            }
        }
        outcome
    }

    /// Everything between the claim and the record: ExternalId, AssumeRole, seal, write.
    async fn deliver(&self, recipients: &[Recipient], record: &mut IssuanceRecord) -> Outcome {
        let planned = &self.planned;
        let external_id = match &self.external_id {
            Some(Ok(value)) => value.clone(),
            Some(Err(error)) => return failed(error),
            None => {
                return Outcome::Failed {
                    reason: "the ExternalId was not read".to_owned(),
                    hint: None,
                };
            }
        };
        if let Some(expected) = &planned.external_id_check
            && !external_id_matches(expected, &external_id)
        {
            return Outcome::Refused {
                reason: format!(
                    "the ExternalId in `{}` does not match the grant's `external_id`; nothing was issued",
                    planned.external_id_parameter
                ),
            };
        }
        let request = AssumeRole {
            role_arn: planned.role_arn.clone(),
            session_name: planned.session_name.clone(),
            external_id,
            duration_seconds: planned.duration_seconds,
            policy: planned.policy.clone(),
            source_identity: planned.source_identity.clone(),
            tags: planned.tags.clone(),
        };
        let credential = match self.aws.assume_role(&planned.region, &request).await {
            Ok(credential) => credential,
            Err(error) => return failed(&error),
        };
        record.assumed_role_id = Some(credential.assumed_role_id.clone());
        record.access_key_id = Some(credential.access_key_id.clone());
        record.expiration = Some(credential.expiration);

        let sealed = match seal::seal(&credential.to_json(), recipients) {
            Ok(sealed) => sealed,
            Err(error) => {
                return Outcome::Failed {
                    reason: error.to_string(),
                    hint: None,
                };
            }
        };
        let file = sealed_path(&self.options.out_dir, planned);
        if let Err(error) = write_atomically(&file, &sealed, 0o600) {
            return Outcome::Failed {
                reason: format!("cannot write `{}`: {error}", file.display()),
                hint: Some("make the output folder writable; the next run issues again".to_owned()),
            };
        }
        tracing::debug!(grant = %planned.grant, file = %file.display(), "sealed");
        Outcome::Issued {
            file,
            session_name: planned.session_name.clone(),
            expiration: credential.expiration,
            sha256: format!("{:x}", Sha256::digest(&sealed)),
        }
    }
}

fn failed(error: &AwsError) -> Outcome {
    Outcome::Failed {
        reason: error.to_string(),
        hint: error.hint().map(str::to_owned),
    }
}

/// Whether the ExternalId read from SSM is the one the grant states, as a value or as a
/// `sha256:` fingerprint.
pub fn external_id_matches(expected: &str, actual: &SecretString) -> bool {
    let actual = actual.expose().as_bytes();
    match expected.strip_prefix("sha256:") {
        Some(hex) => format!("{:x}", Sha256::digest(actual)) == hex,
        None => expected.as_bytes() == actual,
    }
}

/// Where a grant's sealed credential is written.
pub fn sealed_path(out_dir: &Path, planned: &PlannedGrant) -> PathBuf {
    out_dir
        .join(&planned.id.project)
        .join(&planned.id.venue)
        .join(format!("{}.age", planned.id.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_id_matches_value_or_fingerprint() {
        let actual = SecretString::new("unity-test-demo-external-id".to_owned());
        let fingerprint = format!(
            "sha256:{:x}",
            Sha256::digest(b"unity-test-demo-external-id")
        );
        assert!(external_id_matches(&fingerprint, &actual));
        assert!(external_id_matches("unity-test-demo-external-id", &actual));
        assert!(!external_id_matches("unity-dev-demo-external-id", &actual));
        assert!(!external_id_matches(
            &format!("sha256:{}", "0".repeat(64)),
            &actual
        ));
    }
}
