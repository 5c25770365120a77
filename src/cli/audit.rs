//! `stsgrant audit`: the issuance history from the record store, to join with CloudTrail.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use stsgrant::aws::Aws;
use stsgrant::ledger::{IssuanceRecord, RecordStore, StoreSpec};

use super::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// One line per attempt, for people.
    Table,
    /// Every record, for machines.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Where issuance records are kept: `file:DIR`, or `ssm:/PATH`.
    #[arg(long, default_value = "file:out/records", env = "STSGRANT_RECORDS")]
    records: StoreSpec,
    /// How to print the history.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    format: AuditFormat,
}

pub async fn audit(args: &AuditArgs) -> Result<ExitCode, Error> {
    let aws = match args.records {
        StoreSpec::Ssm(_) => Some(Arc::new(Aws::from_env().await)),
        StoreSpec::Files(_) => None,
    };
    let store = RecordStore::open(&args.records, aws)
        .ok_or_else(|| Error::Usage("the record store could not be opened".to_owned()))?;
    let records = store.all().await?;
    match args.format {
        AuditFormat::Json => {
            let mut json = serde_json::to_string_pretty(&records).expect("records serialize");
            json.push('\n');
            print!("{json}");
        }
        AuditFormat::Table => print!("{}", table(&records)),
    }
    Ok(ExitCode::SUCCESS)
}

fn table(records: &[IssuanceRecord]) -> String {
    let mut out = String::from(
        "claimed at            grant  revision/attempt  status  requester  session  access key  expires  commit\n",
    );
    for r in records {
        let status = format!("{:?}", r.status).to_lowercase();
        let _ = writeln!(
            out,
            "{}  {}  r{}/{}  {status}  {}  {}  {}  {}  {}",
            r.claimed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            r.grant,
            r.revision,
            r.attempt,
            r.requester,
            r.session_name,
            r.access_key_id.as_deref().unwrap_or("-"),
            r.expiration
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            r.commit.as_deref().map_or("-", |c| &c[..c.len().min(12)]),
        );
    }
    out
}
