//! The command line: arguments, the commands, and everything printed for people or pipes.
//!
//! This is the output layer: the library returns values and errors, and only this module
//! writes to stdout (data a pipe wants) and stderr (everything for people).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod audit;
mod issue;
mod new;
mod people;
mod terminal;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stsgrant::check::{self, CheckOptions};
use stsgrant::load::CATALOG_FILE;
use stsgrant::venue::Catalog;
use tracing_subscriber::EnvFilter;

/// Short-lived AWS credentials for people without an AWS account, granted through code review.
#[derive(Debug, Parser)]
#[command(name = "stsgrant", version, about, max_term_width = 100)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// More detail on stderr (`-v` decisions, `-vv` every step); secrets are never shown.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The grants folder, holding `venues.yaml` and `<project>/<venue>/` folders.
    #[arg(long, global = true, default_value = "grants", env = "STSGRANT_GRANTS")]
    grants: PathBuf,
    /// Check dates against this day instead of today (UTC), as `YYYY-MM-DD`.
    #[arg(long, global = true, env = "STSGRANT_TODAY", hide = true)]
    today: Option<jiff::civil::Date>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new grant file, from flags or prompts.
    New(new::NewArgs),
    /// Check grant files against the schema, AWS's limits and their venue's limits.
    Validate(validate::ValidateArgs),
    /// Write the JSON Schemas of grants and the venue catalog.
    Schema(validate::SchemaArgs),
    /// Show what `issue` would do for each grant, and why; makes no change in AWS.
    Plan(issue::PlanArgs),
    /// Issue credentials for approved grants, sealed to their recipients.
    Issue(issue::IssueArgs),
    /// Decrypt a sealed credential and print it, or write it as an AWS CLI profile.
    Open(people::OpenArgs),
    /// Print, write or check the CODEOWNERS entries made from the venue catalog.
    Codeowners(people::CodeownersArgs),
    /// List grants past their `not_after`; `--write` removes their files.
    Prune(people::PruneArgs),
    /// Print the issuance history from the record store.
    Audit(audit::AuditArgs),
}

/// An error that stops a command as a whole (not a problem in one grant).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The arguments cannot work together.
    #[error("{0}")]
    Usage(String),
    /// Git could not say what changed.
    #[error(transparent)]
    Git(#[from] stsgrant::git::GitError),
    /// What was asked for does not validate.
    #[error("{0}")]
    Invalid(String),
    /// A sealed credential could not be opened.
    #[error("{0}")]
    Open(String, Option<String>),
    /// The issuance records could not be read.
    #[error(transparent)]
    Records(#[from] stsgrant::ledger::StoreError),
}

impl Error {
    /// 1 when a grant does not validate or a sealed credential cannot be used (expired, not
    /// ours, damaged); 2 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Open(..) | Error::Invalid(..) => ExitCode::from(1),
            _ => ExitCode::from(2),
        }
    }
}

/// Sets up logging on stderr: quiet unless `-v` or `RUST_LOG` asks for more.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "stsgrant=warn,off",
        1 => "stsgrant=debug,warn",
        _ => "stsgrant=trace,info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Prints an error that stopped a command, and what to do about it when that is known. Each
/// error names its cause in its message.
pub fn report_error(error: &Error) {
    eprintln!("error: {error}");
    if let Error::Open(_, Some(hint)) = error {
        eprintln!("  = hint: {hint}");
    }
}

/// Reads and checks the venue catalog alone, for the commands that need no grant: naming the
/// catalog as the one path leaves the grants unread.
fn read_catalog(grants_dir: &Path, today: jiff::civil::Date) -> Result<Catalog, Error> {
    let checked = check::check(&CheckOptions {
        grants_dir: grants_dir.to_owned(),
        paths: vec![grants_dir.join(CATALOG_FILE)],
        today,
    });
    checked.catalog.ok_or_else(|| {
        Error::Usage("the venue catalog has errors; `stsgrant validate` shows them".to_owned())
    })
}

/// Runs the command the arguments name.
pub fn run(args: Args) -> Result<ExitCode, Error> {
    let today = args.today.unwrap_or_else(|| {
        jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date()
    });
    match args.command {
        Command::Validate(command) => validate::validate(&command, args.grants, today),
        Command::Schema(command) => validate::schema(&command),
        Command::Plan(command) => runtime()?.block_on(issue::plan(&command, args.grants, today)),
        Command::Issue(command) => runtime()?.block_on(issue::issue(&command, args.grants, today)),
        Command::Open(command) => people::open(&command),
        Command::New(command) => new::new(&command, args.grants, today),
        Command::Codeowners(command) => people::codeowners(&command, args.grants, today),
        Command::Prune(command) => people::prune(&command, args.grants, today),
        Command::Audit(command) => runtime()?.block_on(audit::audit(&command)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            action: "start the async runtime for",
            path: PathBuf::from("stsgrant"),
            source,
        })
}
