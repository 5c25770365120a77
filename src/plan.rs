//! `stsgrant plan`: what `issue` would do for every grant, and why, before anything happens.
//!
//! A plan is made from the checked grants, the issuance records and who the AWS credentials
//! belong to. It makes no writing call to AWS. Each grant ends up in exactly one action, and
//! the plan shows the role, session name, duration, ExternalId parameter and session policy
//! that issuing would use, so reviewers approve exactly what will be sent.

use std::str::FromStr as _;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::aws::sts::Caller;
use crate::check::{Checked, CheckedGrant};
use crate::grant::GrantId;
use crate::ledger::{self, RecordStore, State};
use crate::policy;
use crate::venue::Catalog;

/// STS's cap on a session when the caller is itself an assumed role.
pub const ROLE_CHAINING_MAX_SECS: u32 = 3600;

/// What `issue` would do for one grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Claim, assume the role, seal and write.
    Issue {
        /// The attempt number that will be claimed.
        attempt: u32,
    },
    /// This revision was issued already.
    AlreadyIssued {
        /// The session it was issued as.
        session_name: String,
        /// When that credential expires.
        expiration: Option<Timestamp>,
    },
    /// Another run has claimed this revision and may still be issuing it.
    InFlight {
        /// When the claim was made.
        claimed_at: Timestamp,
    },
    /// `not_after` has passed; the grant is void.
    Expired {
        /// The grant's last day.
        not_after: String,
    },
    /// The grant has errors; nothing is issued for it.
    Refused {
        /// Why.
        reason: String,
    },
    /// The grant is fine, but the credentials stsgrant runs with cannot issue it.
    NotIssuable {
        /// Why, and what to do.
        reason: String,
    },
    /// The grant is revoked and has credentials that have not expired: deny their sessions.
    Revoke {
        /// The sessions to deny.
        sessions: Vec<String>,
    },
    /// The grant is revoked and nothing issued for it is still valid.
    Revoked,
}

impl Action {
    /// The action's name, as in the JSON form.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Issue { .. } => "issue",
            Action::AlreadyIssued { .. } => "already-issued",
            Action::InFlight { .. } => "in-flight",
            Action::Expired { .. } => "expired",
            Action::Refused { .. } => "refused",
            Action::NotIssuable { .. } => "not-issuable",
            Action::Revoke { .. } => "revoke",
            Action::Revoked => "revoked",
        }
    }

    /// Whether this action counts against a run that should issue everything it was asked to.
    pub fn is_failure(&self) -> bool {
        matches!(self, Action::Refused { .. } | Action::NotIssuable { .. })
    }
}

/// One grant in the plan, with everything an `sts:AssumeRole` call for it would send.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedGrant {
    /// Project, venue and name.
    pub grant: String,
    /// The grant file.
    pub path: String,
    /// What would happen.
    #[serde(flatten)]
    pub action: Action,
    /// The venue's role.
    pub role_arn: String,
    /// The venue's region.
    pub region: String,
    /// The session name it would be issued as.
    pub session_name: String,
    /// Seconds the credential would live.
    pub duration_seconds: u32,
    /// The SSM parameter the ExternalId is read from.
    pub external_id_parameter: String,
    /// The grant's ExternalId fingerprint or value check, when it states one.
    #[serde(skip)]
    pub external_id_check: Option<String>,
    /// The inline session policy, compact JSON.
    pub policy: String,
    /// `SourceIdentity`, when the venue enables it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Session tags, when the venue enables them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The grant's recipients.
    #[serde(skip)]
    pub recipients: Vec<String>,
    /// For a revoked grant, the issuance records of its live credentials.
    #[serde(skip)]
    pub revocations: Vec<ledger::IssuanceRecord>,
    /// The requester's email.
    #[serde(skip)]
    pub requester: String,
    /// The grant revision and digest.
    #[serde(skip)]
    pub revision: u32,
    /// `sha256:` of the grant file.
    #[serde(skip)]
    pub digest: String,
    /// Where the grant sits.
    #[serde(skip)]
    pub id: GrantId,
}

/// The whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Who the AWS credentials belong to, when that could be asked.
    pub caller: Option<String>,
    /// Why the caller could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_error: Option<String>,
    /// One entry per grant, in path order.
    pub grants: Vec<PlannedGrant>,
}

impl Plan {
    /// How many grants each action has.
    pub fn count(&self, name: &str) -> usize {
        self.grants
            .iter()
            .filter(|g| g.action.name() == name)
            .count()
    }
}

/// What a plan is made against: who runs stsgrant, what was issued before, and when.
pub struct Context<'a> {
    /// `Err` with the reason when the credentials could not be asked about; the plan is still
    /// made, and says so.
    pub caller: Result<&'a Caller, &'a str>,
    /// `None` when the record store cannot be read.
    pub records: Option<&'a RecordStore>,
    /// The day session names and `not_after` are read against.
    pub today: Date,
    /// The moment expirations and claims are read against.
    pub now: Timestamp,
    /// How long another run's claim on a grant holds before the grant is tried again.
    pub lease: SignedDuration,
}

/// Makes the plan.
pub async fn make(checked: &Checked, context: &Context<'_>) -> Result<Plan, ledger::StoreError> {
    let mut grants = Vec::new();
    let Some(catalog) = &checked.catalog else {
        return Ok(Plan {
            caller: context.caller.ok().map(|c| c.arn.clone()),
            caller_error: None,
            grants,
        });
    };
    for checked_grant in &checked.grants {
        let Some(mut planned) = describe(catalog, checked_grant, context.today) else {
            continue;
        };
        if checked_grant.grant.revoked {
            if let Some(records) = context.records {
                planned.revocations = live_records(records, &planned.grant, context.now).await?;
            }
            planned.action = if planned.revocations.is_empty() {
                Action::Revoked
            } else {
                let sessions = planned
                    .revocations
                    .iter()
                    .map(|r| r.session_name.clone())
                    .collect();
                Action::Revoke { sessions }
            };
            grants.push(planned);
            continue;
        }
        planned.action = decide(checked_grant, &planned, catalog, context).await?;
        grants.push(planned);
    }
    let (caller, caller_error) = match context.caller {
        Ok(c) => (Some(c.arn.clone()), None),
        Err(e) => (None, Some(e.to_owned())),
    };
    Ok(Plan {
        caller,
        caller_error,
        grants,
    })
}

fn describe(catalog: &Catalog, checked: &CheckedGrant, today: Date) -> Option<PlannedGrant> {
    let id = checked.id();
    let venue = catalog.find(&id.project, &id.venue)?;
    let grant = &checked.grant;
    let policy = policy::session_policy(grant, venue)
        .map(|p| p.compact())
        .unwrap_or_default();
    let login = grant.requester.login();
    let mut tags = Vec::new();
    if venue.session_tags {
        tags.push((
            "stsgrant:requester".to_owned(),
            grant.requester.email.clone(),
        ));
        tags.push(("stsgrant:grant".to_owned(), id.to_string()));
    }
    Some(PlannedGrant {
        grant: id.to_string(),
        path: checked.file.path.display().to_string(),
        action: Action::Issue { attempt: 1 },
        role_arn: catalog.role_arn(venue),
        region: venue.region.clone(),
        session_name: grant.session_name(id, today),
        duration_seconds: grant.duration.as_secs(),
        external_id_parameter: catalog.external_id_parameter(venue),
        external_id_check: grant.external_id.clone(),
        policy,
        source_identity: venue.source_identity.then_some(login),
        tags,
        recipients: grant.recipients.clone(),
        revocations: Vec::new(),
        requester: grant.requester.email.clone(),
        revision: grant.revision,
        digest: checked.digest(),
        id: id.clone(),
    })
}

/// The issued, unexpired, not yet revoked credentials of a grant, across its revisions.
async fn live_records(
    records: &RecordStore,
    grant: &str,
    now: Timestamp,
) -> Result<Vec<ledger::IssuanceRecord>, ledger::StoreError> {
    let mut live = records.grant_records(grant).await?;
    live.retain(|r| {
        r.status == ledger::Status::Issued
            && r.revoked_at.is_none()
            && r.assumed_role_id.is_some()
            && r.expiration.is_some_and(|e| e > now)
    });
    Ok(live)
}

async fn decide(
    checked: &CheckedGrant,
    planned: &PlannedGrant,
    catalog: &Catalog,
    context: &Context<'_>,
) -> Result<Action, ledger::StoreError> {
    if checked.has_errors {
        let reason = "the grant has errors; `stsgrant validate` shows them".to_owned();
        return Ok(Action::Refused { reason });
    }
    let not_after = &checked.grant.not_after;
    if Date::from_str(not_after).is_ok_and(|d| d < context.today) {
        return Ok(Action::Expired {
            not_after: not_after.clone(),
        });
    }
    let mut attempt = 1;
    if let Some(records) = context.records {
        let key = ledger::revision_key(&planned.grant, planned.revision, &planned.digest);
        match ledger::state(&records.attempts(&key).await?, context.now, context.lease) {
            State::Issued(record) => {
                return Ok(Action::AlreadyIssued {
                    session_name: record.session_name,
                    expiration: record.expiration,
                });
            }
            State::InFlight(record) => {
                return Ok(Action::InFlight {
                    claimed_at: record.claimed_at,
                });
            }
            State::Open { next_attempt } => attempt = next_attempt,
        }
    }
    if let Some(reason) = context
        .caller
        .ok()
        .and_then(|caller| not_issuable(caller, planned, catalog))
    {
        return Ok(Action::NotIssuable { reason });
    }
    Ok(Action::Issue { attempt })
}

/// Why the caller cannot issue this grant, if it cannot.
fn not_issuable(caller: &Caller, planned: &PlannedGrant, catalog: &Catalog) -> Option<String> {
    let venue = catalog.find(&planned.id.project, &planned.id.venue)?;
    if caller.account_id != venue.account_id {
        return Some(format!(
            "stsgrant runs as account `{}`, but the venue is in account `{}`; run it with credentials of the venue's account",
            caller.account_id, venue.account_id
        ));
    }
    if caller.is_assumed_role() && planned.duration_seconds > ROLE_CHAINING_MAX_SECS {
        return Some(format!(
            "stsgrant runs as an assumed role (`{}`), and STS caps a role assumed from a role at 1h (role chaining), but the grant asks for {}; \
             run it with keys of an IAM user of the account, or ask for `1h` or less",
            caller.arn,
            crate::duration::GrantDuration::from_secs(planned.duration_seconds)
        ));
    }
    None
}
