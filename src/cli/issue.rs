//! `stsgrant plan` and `stsgrant issue`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use stsgrant::aws::Aws;
use stsgrant::check::{self, CheckOptions, Checked};
use stsgrant::diagnostic;
use stsgrant::issue::{self, GrantOutcome, IssueOptions, Outcome};
use stsgrant::ledger::{RecordStore, StoreSpec};
use stsgrant::load::CATALOG_FILE;
use stsgrant::plan::{self, Action, Plan};

use super::Error;

/// Which grants and which records; shared by `plan` and `issue`.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Grant files or folders (default: every grant under the grants folder).
    paths: Vec<PathBuf>,
    /// Only the grants added or changed since this git commit.
    #[arg(long, value_name = "COMMIT")]
    changed_since: Option<String>,
    /// Where issuance records are kept: `file:DIR`, or `ssm:/PATH` shared by every run.
    #[arg(long, default_value = "file:out/records", env = "STSGRANT_RECORDS")]
    records: StoreSpec,
    /// How long a claim by a run that has not finished keeps others away, in minutes.
    #[arg(long, default_value_t = 15, value_name = "MINUTES")]
    lease: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// A table for people.
    Human,
    /// A summary for a pull request or `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// Everything, for machines.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    selection: Selection,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    format: PlanFormat,
}

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    #[command(flatten)]
    selection: Selection,
    /// The folder sealed credentials are written to.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// How many grants are issued at once.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// The commit recorded with each issuance (default: `HEAD`).
    #[arg(long)]
    commit: Option<String>,
}

struct Prepared {
    checked: Checked,
    plan: Plan,
    aws: Arc<Aws>,
    records: Option<RecordStore>,
    notes: Vec<String>,
}

async fn prepare(
    selection: &Selection,
    grants_dir: PathBuf,
    today: Date,
) -> Result<Prepared, Error> {
    let mut notes = Vec::new();
    let mut paths = selection.paths.clone();
    if let Some(since) = &selection.changed_since {
        let changed = stsgrant::git::changed_since(since, &grants_dir)?;
        let catalog_changed = changed.iter().any(|p| p.ends_with(CATALOG_FILE));
        paths.extend(changed.into_iter().filter(|p| !p.ends_with(CATALOG_FILE)));
        if catalog_changed && !paths.is_empty() {
            notes.push("this change edits the venue catalog and grants at once; review the catalog change first".to_owned());
        }
        if paths.is_empty() {
            notes.push(format!("no grant changed since `{since}`"));
        }
    }
    let nothing_changed = selection.changed_since.is_some() && paths.is_empty();
    let checked = check::check(&CheckOptions {
        grants_dir,
        paths,
        today,
    });
    let mut checked = checked;
    if nothing_changed {
        checked.grants.clear();
    }
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        notes.push(format!("{errors} error(s) found; the grants they are in are refused (`stsgrant validate` shows them)"));
    }

    let aws = Arc::new(Aws::from_env().await);
    let caller = aws.caller().await;
    let records = RecordStore::open(&selection.records, Some(Arc::clone(&aws)));
    let caller_view = caller.as_ref().map_err(|e| e.message.as_str());
    let context = plan::Context {
        caller: caller_view,
        records: records.as_ref(),
        today,
        now: Timestamp::now(),
        lease: SignedDuration::from_mins(selection.lease),
    };
    let plan = plan::make(&checked, &context).await?;
    Ok(Prepared {
        checked,
        plan,
        aws,
        records,
        notes,
    })
}

pub async fn plan(args: &PlanArgs, grants_dir: PathBuf, today: Date) -> Result<ExitCode, Error> {
    let prepared = prepare(&args.selection, grants_dir, today).await?;
    let output = match args.format {
        PlanFormat::Human => render_human(&prepared.plan, &prepared.notes),
        PlanFormat::Markdown => render_markdown(&prepared.plan, &prepared.notes),
        PlanFormat::Json => {
            let mut json = serde_json::to_string_pretty(&prepared.plan).expect("a plan serializes");
            json.push('\n');
            json
        }
    };
    print!("{output}");
    let failing =
        prepared.checked.has_errors() || prepared.plan.grants.iter().any(|g| g.action.is_failure());
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn issue(args: &IssueArgs, grants_dir: PathBuf, today: Date) -> Result<ExitCode, Error> {
    let prepared = prepare(&args.selection, grants_dir, today).await?;
    eprint!(
        "{}",
        diagnostic::render_human(&prepared.checked.diagnostics)
    );
    let Some(records) = prepared.records else {
        return Err(Error::Usage(
            "the record store could not be opened".to_owned(),
        ));
    };
    let options = IssueOptions {
        out_dir: args.out.clone(),
        jobs: args.jobs,
        commit: args.commit.clone().or_else(stsgrant::git::head),
        stale: std::time::Duration::from_secs(
            u64::try_from(args.selection.lease.max(0)).unwrap_or(0) * 60,
        ),
    };
    let outcomes = issue::issue(&prepared.plan, prepared.aws, records, &options).await;
    if outcomes
        .iter()
        .any(|o| matches!(o.outcome, Outcome::Issued { .. }))
    {
        let path = stsgrant::output::write_manifest(
            &options.out_dir,
            options.commit.as_deref(),
            &outcomes,
        )
        .map_err(|source| Error::Io {
            action: "write",
            path: options.out_dir.join("manifest.json"),
            source,
        })?;
        tracing::debug!(manifest = %path.display(), "wrote manifest");
    }
    eprint!("{}", render_outcomes(&outcomes));
    let failed = outcomes.iter().any(|o| o.outcome.is_failure()) || prepared.checked.has_errors();
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn describe(action: &Action) -> String {
    match action {
        Action::Issue { attempt: 1 } => "issue".to_owned(),
        Action::Issue { attempt } => format!("issue (attempt {attempt})"),
        Action::AlreadyIssued { session_name, .. } => format!("already issued as `{session_name}`"),
        Action::InFlight { claimed_at } => format!("in flight, claimed at {claimed_at}"),
        Action::Expired { not_after } => format!("expired after {not_after}"),
        Action::Refused { reason } => format!("refused: {reason}"),
        Action::NotIssuable { reason } => format!("not issuable: {reason}"),
        Action::Revoke { sessions } => format!("revoke: deny {} on the role", sessions.join(", ")),
        Action::Revoked => "revoked; nothing issued for it is still valid".to_owned(),
    }
}

fn caller_line(plan: &Plan) -> String {
    match (&plan.caller, &plan.caller_error) {
        (Some(arn), _) => format!("AWS credentials: `{arn}`"),
        (None, Some(error)) => format!(
            "AWS credentials: not checked ({error}); account and role chaining were not verified"
        ),
        (None, None) => "AWS credentials: not checked".to_owned(),
    }
}

fn render_human(plan: &Plan, notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", caller_line(plan));
    for note in notes {
        let _ = writeln!(out, "note: {note}");
    }
    for g in &plan.grants {
        let _ = writeln!(out, "\n{}: {}", g.grant, describe(&g.action));
        let _ = writeln!(out, "  role:          {}", g.role_arn);
        let _ = writeln!(out, "  session name:  {}", g.session_name);
        let _ = writeln!(
            out,
            "  duration:      {}",
            stsgrant::duration::GrantDuration::from_secs(g.duration_seconds)
        );
        let _ = writeln!(
            out,
            "  external id:   read from `{}`",
            g.external_id_parameter
        );
        let _ = writeln!(out, "  policy:        {}", g.policy);
    }
    let _ = writeln!(out, "\n{}", totals(plan));
    out
}

fn totals(plan: &Plan) -> String {
    [
        "issue",
        "already-issued",
        "in-flight",
        "expired",
        "refused",
        "not-issuable",
        "revoke",
        "revoked",
    ]
    .iter()
    .map(|name| format!("{} {name}", plan.count(name)))
    .collect::<Vec<_>>()
    .join(", ")
}

fn render_markdown(plan: &Plan, notes: &[String]) -> String {
    let mut out = String::from("## stsgrant plan\n\n");
    let _ = writeln!(out, "{}\n", caller_line(plan));
    for note in notes {
        let _ = writeln!(out, "> **Note:** {note}\n");
    }
    out.push_str("| grant | action | role | session name | duration |\n|---|---|---|---|---|\n");
    for g in &plan.grants {
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | `{}` | {} |",
            g.grant,
            describe(&g.action).replace('|', "\\|"),
            g.role_arn,
            g.session_name,
            stsgrant::duration::GrantDuration::from_secs(g.duration_seconds)
        );
    }
    for g in &plan.grants {
        let policy: serde_json::Value = serde_json::from_str(&g.policy).unwrap_or_default();
        let pretty = serde_json::to_string_pretty(&policy).unwrap_or_default();
        let _ = writeln!(
            out,
            "\n<details><summary>Session policy of <code>{}</code> (ExternalId read from <code>{}</code>)</summary>\n\n```json\n{pretty}\n```\n</details>",
            g.grant, g.external_id_parameter
        );
    }
    let _ = writeln!(out, "\n{}", totals(plan));
    out
}

fn render_outcomes(outcomes: &[GrantOutcome]) -> String {
    let mut out = String::new();
    let mut counts = [0usize; 5];
    for o in outcomes {
        let line = match &o.outcome {
            Outcome::Issued {
                file, expiration, ..
            } => {
                counts[0] += 1;
                format!(
                    "issued   {}: `{}`, expires {expiration}",
                    o.grant,
                    file.display()
                )
            }
            Outcome::Skipped { reason } => {
                counts[1] += 1;
                format!("skipped  {}: {reason}", o.grant)
            }
            Outcome::Refused { reason } => {
                counts[2] += 1;
                format!("refused  {}: {reason}", o.grant)
            }
            Outcome::Revoked { sessions } => {
                counts[4] += 1;
                format!(
                    "revoked  {}: denied {} on the role",
                    o.grant,
                    sessions.join(", ")
                )
            }
            Outcome::Failed { reason, hint } => {
                counts[3] += 1;
                match hint {
                    Some(hint) => format!("failed   {}: {reason}\n  = hint: {hint}", o.grant),
                    None => format!("failed   {}: {reason}", o.grant),
                }
            }
        };
        let _ = writeln!(out, "{line}");
    }
    let _ = write!(
        out,
        "{} issued, {} skipped, {} refused, {} failed",
        counts[0], counts[1], counts[2], counts[3]
    );
    if counts[4] > 0 {
        let _ = write!(out, ", {} revoked", counts[4]);
    }
    out.push('\n');
    out
}
