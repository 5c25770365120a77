//! `stsgrant new`: a grant file for a requester, from flags or, on a terminal, from prompts.

use std::fs;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr as _;

use jiff::civil::Date;

use stsgrant::check::{self, CheckOptions};
use stsgrant::diagnostic;
use stsgrant::duration::GrantDuration;
use stsgrant::grant::{AccessKind, Grant, Requester};
use stsgrant::request;
use stsgrant::seal::{self, Recipient};
use stsgrant::venue::Venue;

use super::Error;

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The project folder under the grants folder.
    #[arg(long)]
    project: Option<String>,
    /// The venue folder under the project.
    #[arg(long)]
    venue: Option<String>,
    /// The grant's file name, without `.yaml` (lowercase letters, digits, `-`).
    #[arg(long)]
    name: Option<String>,
    /// Your full name.
    #[arg(long)]
    requester_name: Option<String>,
    /// Your work email address.
    #[arg(long)]
    email: Option<String>,
    /// Your GitHub login.
    #[arg(long)]
    github: Option<String>,
    /// A public key to seal to: `age1…`, `ssh-ed25519 …` or `ssh-rsa …`.
    #[arg(long)]
    recipient: Option<String>,
    /// Read the public key from a file: an SSH `.pub` file or an age identity file.
    #[arg(long, conflicts_with = "recipient")]
    recipient_file: Option<PathBuf>,
    /// Make a new age identity at this path (mode 0600) and seal to it.
    #[arg(long, conflicts_with_all = ["recipient", "recipient_file"], value_name = "PATH")]
    new_identity: Option<PathBuf>,
    /// Comma-separated access (default on a terminal: what the venue offers).
    #[arg(long, value_delimiter = ',')]
    access: Vec<AccessKind>,
    /// How long the credential lives (default: `1h`, or the venue's maximum if shorter).
    #[arg(long)]
    duration: Option<GrantDuration>,
    /// Why the access is needed.
    #[arg(long)]
    reason: Option<String>,
    /// The last day the grant may be issued (default: 30 days ahead, within the venue's limit).
    #[arg(long)]
    not_after: Option<Date>,
    /// Narrow S3 access to this key prefix.
    #[arg(long)]
    s3_prefix: Option<String>,
    /// Narrow ECR access to repositories matching this pattern.
    #[arg(long)]
    ecr_repositories: Option<String>,
}

/// Asks on the terminal, or says which flag is missing.
struct Asker {
    terminal: bool,
}

impl Asker {
    fn ask(
        &self,
        value: Option<String>,
        flag: &str,
        question: &str,
        default: Option<&str>,
    ) -> Result<String, Error> {
        if let Some(value) = value {
            return Ok(value);
        }
        if !self.terminal {
            return match default {
                Some(default) => Ok(default.to_owned()),
                None => Err(Error::Usage(format!(
                    "`--{flag}` is required when not run on a terminal"
                ))),
            };
        }
        match default {
            Some(default) => eprint!("{question} [{default}]: "),
            None => eprint!("{question}: "),
        }
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|source| Error::Io {
                action: "read",
                path: PathBuf::from("stdin"),
                source,
            })?;
        let line = line.trim();
        match (line.is_empty(), default) {
            (true, Some(default)) => Ok(default.to_owned()),
            (true, None) => Err(Error::Usage(format!("`{flag}` is needed"))),
            (false, _) => Ok(line.to_owned()),
        }
    }
}

pub fn new(args: &NewArgs, grants_dir: PathBuf, today: Date) -> Result<ExitCode, Error> {
    let asker = Asker {
        terminal: std::io::stdin().is_terminal(),
    };
    let catalog = super::read_catalog(&grants_dir, today)?;
    let project = asker.ask(args.project.clone(), "project", "project", None)?;
    let venue_name = asker.ask(args.venue.clone(), "venue", "venue", None)?;
    let venue = catalog.find(&project, &venue_name).ok_or_else(|| {
        let known: Vec<String> = catalog
            .venues
            .iter()
            .map(|v| format!("`{}/{}`", v.project, v.venue))
            .collect();
        Error::Usage(format!(
            "no venue `{project}/{venue_name}` in the catalog; known: {}",
            known.join(", ")
        ))
    })?;
    let name = asker.ask(
        args.name.clone(),
        "name",
        "grant name (file name without .yaml)",
        None,
    )?;
    let requester_name = asker.ask(
        args.requester_name.clone(),
        "requester-name",
        "your full name",
        None,
    )?;
    let email = asker.ask(args.email.clone(), "email", "your work email", None)?;
    let github = match &args.github {
        Some(login) => Some(login.clone()),
        None if asker.terminal => Some(asker.ask(
            None,
            "github",
            "your GitHub login (empty for none)",
            Some(""),
        )?)
        .filter(|s| !s.is_empty()),
        None => None,
    };
    let recipient = recipient(args, &asker)?;
    let access = access(args, venue, &asker)?;
    let duration = match args.duration {
        Some(duration) => duration,
        None => default_duration(venue),
    };
    let reason = asker.ask(
        args.reason.clone(),
        "reason",
        "why do you need the access",
        None,
    )?;
    let not_after = args.not_after.unwrap_or_else(|| {
        today.saturating_add(jiff::Span::new().days(i64::from(venue.max_grant_days.min(30))))
    });

    let grant = Grant {
        project: project.clone(),
        venue: venue_name.clone(),
        requester: Requester {
            name: requester_name,
            email,
            github,
        },
        recipients: vec![recipient],
        access,
        s3_prefix: args.s3_prefix.clone(),
        ecr_repositories: args.ecr_repositories.clone(),
        duration,
        reason,
        not_after: not_after.to_string(),
        external_id: None,
        revision: 1,
        revoked: false,
    };
    let path = grants_dir
        .join(&project)
        .join(&venue_name)
        .join(format!("{name}.yaml"));
    write_checked(&path, &grant, &grants_dir, today)?;

    eprintln!("wrote `{}`; next:", path.display());
    eprintln!("  git switch -c grant/{project}-{venue_name}-{name}");
    eprintln!(
        "  git add {} && git commit -m \"Grant {project}/{venue_name}/{name}\"",
        path.display()
    );
    eprintln!(
        "  git push -u origin HEAD, then open a pull request; the venue's approvers review it"
    );
    Ok(ExitCode::SUCCESS)
}

fn default_duration(venue: &Venue) -> GrantDuration {
    GrantDuration::from_secs(venue.max_duration.as_secs().min(3600))
}

fn recipient(args: &NewArgs, asker: &Asker) -> Result<String, Error> {
    if let Some(path) = &args.new_identity {
        let public = request::generate_identity(path).map_err(|source| Error::Io {
            action: "create the identity",
            path: path.clone(),
            source,
        })?;
        eprintln!(
            "made a new age identity at `{}` (keep it private; `stsgrant open -i` reads it)",
            path.display()
        );
        return Ok(public);
    }
    if let Some(path) = &args.recipient_file {
        return recipient_from_file(path);
    }
    let text = asker.ask(
        args.recipient.clone(),
        "recipient",
        "your public key (age1…, ssh-ed25519 …)",
        None,
    )?;
    let parsed = Recipient::from_str(&text).map_err(|e| {
        Error::Usage(match e.hint() {
            Some(hint) => format!("{e}\n  = hint: {hint}"),
            None => e.to_string(),
        })
    })?;
    Ok(parsed.to_string())
}

fn recipient_from_file(path: &Path) -> Result<String, Error> {
    let text = fs::read_to_string(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    if let Ok(recipient) = Recipient::from_str(text.trim()) {
        return Ok(recipient.to_string());
    }
    let identities =
        seal::read_identities(path, None).map_err(|e| Error::Open(e.to_string(), e.hint()))?;
    identities
        .recipients()
        .first()
        .map(ToString::to_string)
        .ok_or_else(|| Error::Usage(format!("`{}` holds no key to seal to", path.display())))
}

fn access(args: &NewArgs, venue: &Venue, asker: &Asker) -> Result<Vec<AccessKind>, Error> {
    if !args.access.is_empty() {
        return Ok(args.access.clone());
    }
    let offered: Vec<&str> = venue.allowed_access.iter().map(|a| a.as_str()).collect();
    let answer = asker.ask(
        None,
        "access",
        "access (comma-separated)",
        asker.terminal.then(|| offered.join(",")).as_deref(),
    )?;
    answer
        .split(',')
        .map(|part| AccessKind::from_str(part.trim()).map_err(Error::Usage))
        .collect()
}

/// Writes the grant only if it validates; an existing file is never replaced.
fn write_checked(path: &Path, grant: &Grant, grants_dir: &Path, today: Date) -> Result<(), Error> {
    if path.exists() {
        return Err(Error::Usage(format!(
            "`{}` exists already; pick another `--name`",
            path.display()
        )));
    }
    let text = request::render(grant);
    if let Some(folder) = path.parent() {
        fs::create_dir_all(folder).map_err(|source| Error::Io {
            action: "create",
            path: folder.to_owned(),
            source,
        })?;
    }
    fs::write(path, &text).map_err(|source| Error::Io {
        action: "write",
        path: path.to_owned(),
        source,
    })?;
    let checked = check::check(&CheckOptions {
        grants_dir: grants_dir.to_owned(),
        paths: vec![path.to_owned()],
        today,
    });
    if checked.has_errors() {
        let _ = fs::remove_file(path);
        let errors: Vec<_> = checked
            .diagnostics
            .into_iter()
            .filter(|d| d.file == path)
            .collect();
        return Err(Error::Invalid(format!(
            "the grant would not validate, so it was not written:\n{}",
            diagnostic::render_human(&errors).trim_end()
        )));
    }
    Ok(())
}
