//! Revocation: denying the live sessions of a revoked grant on its venue role.
//!
//! STS cannot take back a credential, but the role can refuse it: an inline policy on the
//! role (`stsgrant-revocations`) gets one `Deny` statement per revoked session, matching the
//! session by `aws:userid` (the AssumedRoleId, `AROA…:session-name`) and only for tokens
//! issued before the revocation (`aws:TokenIssueTime`), so a later grant of the same name is
//! not caught. Each statement's `Sid` carries the credential's expiry; statements whose
//! credential has expired anyway are dropped whenever the policy is written, which keeps the
//! role under IAM's size limit for inline policies.

use std::collections::HashMap;
use std::str::FromStr as _;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::aws::Aws;
use crate::issue::{GrantOutcome, Outcome};
use crate::ledger::RecordStore;
use crate::plan::{Action, Plan, PlannedGrant};
use crate::venue::RoleArn;

/// The name of the role's inline policy that stsgrant owns.
pub const POLICY_NAME: &str = "stsgrant-revocations";
/// IAM's limit on the inline policies of one role, in characters (without whitespace).
pub const MAX_ROLE_POLICY_CHARS: usize = 10_240;

/// One session to deny.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The session's AssumedRoleId, `AROA…:session-name`.
    pub assumed_role_id: String,
    /// When the session's credential expires; the statement is useless after.
    pub expiration: Timestamp,
}

/// Why the revocation policy cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevokeError {
    /// The role's policy is not one stsgrant can read.
    #[error("the role's `{POLICY_NAME}` policy is not a policy document stsgrant wrote")]
    Unreadable,
    /// Even without expired entries, the policy would be too large.
    #[error(
        "the role's `{POLICY_NAME}` policy would be {0} characters; IAM allows {MAX_ROLE_POLICY_CHARS}"
    )]
    TooLarge(usize),
}

/// The revocation policy with `revocations` added and expired statements dropped.
pub fn add(
    existing: Option<&str>,
    revocations: &[Revocation],
    now: Timestamp,
) -> Result<String, RevokeError> {
    let mut statements: Vec<Value> = match existing {
        None => Vec::new(),
        Some(text) => {
            let document: Value =
                serde_json::from_str(text).map_err(|_| RevokeError::Unreadable)?;
            document["Statement"]
                .as_array()
                .cloned()
                .ok_or(RevokeError::Unreadable)?
        }
    };
    statements.retain(|statement| expiry_of(statement).is_none_or(|expiry| expiry > now));
    for revocation in revocations {
        let sid = sid(revocation);
        if statements.iter().any(|s| s["Sid"] == sid.as_str()) {
            continue;
        }
        statements.push(json!({
            "Sid": sid,
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:userid": revocation.assumed_role_id},
                "DateLessThan": {"aws:TokenIssueTime": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()},
            },
        }));
    }
    let document = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    if document.len() > MAX_ROLE_POLICY_CHARS {
        return Err(RevokeError::TooLarge(document.len()));
    }
    Ok(document)
}

/// `Revoke<expiry as yyyymmddHHMMSS>x<hash of the session>`: IAM allows letters and digits.
fn sid(revocation: &Revocation) -> String {
    use sha2::{Digest as _, Sha256};
    let hash = Sha256::digest(revocation.assumed_role_id.as_bytes());
    let short: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!(
        "Revoke{}x{short}",
        revocation.expiration.strftime("%Y%m%d%H%M%S")
    )
}

fn expiry_of(statement: &Value) -> Option<Timestamp> {
    let sid = statement["Sid"].as_str()?.strip_prefix("Revoke")?;
    let (stamp, _) = sid.split_once('x')?;
    let civil = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", stamp).ok()?;
    civil
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Denies the live sessions of revoked grants, one policy update per venue role: updates of
/// one role's policy must not race, so they are made one role at a time.
pub async fn revoke(plan: &Plan, aws: &Aws, records: &RecordStore) -> Vec<GrantOutcome> {
    let mut by_role: HashMap<(String, String), Vec<&PlannedGrant>> = HashMap::new();
    for planned in plan
        .grants
        .iter()
        .filter(|g| matches!(g.action, Action::Revoke { .. }))
    {
        by_role
            .entry((planned.region.clone(), planned.role_arn.clone()))
            .or_default()
            .push(planned);
    }
    let mut outcomes = Vec::new();
    for ((region, role_arn), grants) in by_role {
        let now = Timestamp::now();
        let result = deny_sessions(aws, &region, &role_arn, &grants, now).await;
        for planned in grants {
            let outcome = match &result {
                Ok(()) => mark_revoked(records, planned, now).await,
                Err(error) => Outcome::Failed {
                    reason: error.clone(),
                    hint: None,
                },
            };
            outcomes.push(GrantOutcome {
                grant: planned.grant.clone(),
                outcome,
            });
        }
    }
    outcomes
}

async fn deny_sessions(
    aws: &Aws,
    region: &str,
    role_arn: &str,
    grants: &[&PlannedGrant],
    now: Timestamp,
) -> Result<(), String> {
    let role = RoleArn::from_str(role_arn)
        .map_err(|e| e.to_string())?
        .role_name;
    let revocations: Vec<Revocation> = grants
        .iter()
        .flat_map(|g| &g.revocations)
        .filter_map(|r| {
            Some(Revocation {
                assumed_role_id: r.assumed_role_id.clone()?,
                expiration: r.expiration?,
            })
        })
        .collect();
    let existing = aws
        .role_policy(region, &role, POLICY_NAME)
        .await
        .map_err(|e| e.to_string())?;
    let document = add(existing.as_deref(), &revocations, now).map_err(|e| e.to_string())?;
    aws.put_role_policy(region, &role, POLICY_NAME, &document)
        .await
        .map_err(|e| e.to_string())?;
    tracing::debug!(role = %role, sessions = revocations.len(), "denied revoked sessions");
    Ok(())
}

async fn mark_revoked(records: &RecordStore, planned: &PlannedGrant, now: Timestamp) -> Outcome {
    for record in &planned.revocations {
        let mut record = record.clone();
        record.revoked_at = Some(now);
        if let Err(error) = records.finish(&record).await {
            return Outcome::Failed {
                reason: format!(
                    "the sessions are denied, but the record could not be updated: {error}"
                ),
                hint: Some("the next run denies them again, which changes nothing".to_owned()),
            };
        }
    }
    Outcome::Revoked {
        sessions: planned
            .revocations
            .iter()
            .map(|r| r.session_name.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn revocation(id: &str, expires: &str) -> Revocation {
        Revocation {
            assumed_role_id: id.to_owned(),
            expiration: at(expires),
        }
    }

    #[test]
    fn a_revocation_denies_that_session_for_tokens_issued_before_now() {
        let now = at("2026-12-03T12:00:00Z");
        let text = add(
            None,
            &[revocation("AROAX:alice-a-20261203", "2026-12-03T14:00:00Z")],
            now,
        )
        .expect("written");
        let policy: Value = serde_json::from_str(&text).expect("JSON");
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(
            statement["Condition"]["StringEquals"]["aws:userid"],
            "AROAX:alice-a-20261203"
        );
        assert_eq!(
            statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-12-03T12:00:00Z"
        );
        assert!(
            statement["Sid"]
                .as_str()
                .is_some_and(|s| s.starts_with("Revoke20261203140000x"))
        );
    }

    #[test]
    fn expired_entries_are_dropped_and_repeats_are_not_added() {
        let first = add(
            None,
            &[revocation("AROAX:old", "2026-12-03T13:00:00Z")],
            at("2026-12-03T12:00:00Z"),
        )
        .expect("written");
        let again = add(
            Some(&first),
            &[revocation("AROAX:new", "2026-12-04T13:00:00Z")],
            at("2026-12-03T14:00:00Z"),
        )
        .expect("written");
        let same = add(
            Some(&again),
            &[revocation("AROAX:new", "2026-12-04T13:00:00Z")],
            at("2026-12-03T14:00:00Z"),
        )
        .expect("written");
        let policy: Value = serde_json::from_str(&same).expect("JSON");
        let ids: Vec<&str> = policy["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter_map(|s| s["Condition"]["StringEquals"]["aws:userid"].as_str())
            .collect();
        assert_eq!(ids, ["AROAX:new"]);
    }

    #[test]
    fn a_policy_that_is_not_ours_or_too_large_is_refused() {
        let now = at("2026-12-03T12:00:00Z");
        assert_eq!(
            add(Some("not json"), &[], now),
            Err(RevokeError::Unreadable)
        );
        let many: Vec<Revocation> = (0..100)
            .map(|i| {
                revocation(
                    &format!("AROAXXXXXXXXXXXXXXXXX:session-{i}"),
                    "2026-12-04T00:00:00Z",
                )
            })
            .collect();
        assert!(matches!(
            add(None, &many, now),
            Err(RevokeError::TooLarge(_))
        ));
    }
}
