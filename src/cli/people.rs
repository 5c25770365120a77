//! `stsgrant open` for recipients, and the upkeep commands `codeowners` and `prune`.

use std::fs;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::Timestamp;
use jiff::civil::Date;

use stsgrant::check::{self, CheckOptions};
use stsgrant::codeowners::{self, CODEOWNERS_FILE};
use stsgrant::credential::Credential;
use stsgrant::secret::SecretString;
use stsgrant::{open, seal};
use zeroize::Zeroizing;

use super::{Error, terminal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OpenFormat {
    /// The JSON of `aws sts assume-role`, exactly as sealed.
    Json,
    /// `export AWS_…=…` lines for a shell: `eval "$(stsgrant open FILE --format env)"`.
    Env,
    /// The JSON the AWS CLI's `credential_process` setting expects.
    CredentialProcess,
}

#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    /// The sealed credential (`.age`).
    file: PathBuf,
    /// An age identity file or an OpenSSH private key.
    #[arg(short, long, env = "STSGRANT_IDENTITY")]
    identity: Option<PathBuf>,
    /// How to print the credential on stdout.
    #[arg(long, value_enum, default_value_t = OpenFormat::Json)]
    format: OpenFormat,
    /// Instead of printing, add or replace this profile in `~/.aws/credentials`.
    #[arg(long, value_name = "PROFILE")]
    write_profile: Option<String>,
}

fn default_identity() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(Path::new(&home).join(".config/stsgrant/identity.txt"))
}

pub fn open(args: &OpenArgs) -> Result<ExitCode, Error> {
    let identity = args
        .identity
        .clone()
        .or_else(default_identity)
        .ok_or_else(|| {
            Error::Usage("no identity given; pass `-i FILE` or set `STSGRANT_IDENTITY`".to_owned())
        })?;
    let ciphertext = fs::read(&args.file).map_err(|source| Error::Io {
        action: "read",
        path: args.file.clone(),
        source,
    })?;
    let prompt = || {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        let prompt = format!("passphrase for `{}`: ", identity.display());
        let line = terminal::read_hidden_line(&prompt).ok()?;
        Some(SecretString::from(line.as_str()))
    };
    let identities = seal::read_identities(&identity, Some(&prompt))
        .map_err(|e| Error::Open(e.to_string(), e.hint()))?;
    for warning in identities.warnings() {
        eprintln!("warning: {warning}");
    }
    let plaintext = seal::open(&ciphertext, &identities).map_err(|e| {
        Error::Open(
            format!("cannot open `{}`: {e}", args.file.display()),
            e.hint().map(str::to_owned),
        )
    })?;
    let credential = Credential::from_json(&plaintext).map_err(|e| {
        Error::Open(
            format!("`{}` holds no credential: {e}", args.file.display()),
            e.hint().map(str::to_owned),
        )
    })?;

    let left = open::time_left(&credential, Timestamp::now()).map_err(|e| {
        Error::Open(
            format!("the credential expired at {}", e.at),
            e.hint().map(str::to_owned),
        )
    })?;
    eprintln!(
        "role `{}`, {} left (expires {})",
        credential.arn,
        format_left(left),
        credential.expiration
    );
    if left < open::EXPIRY_WARNING {
        eprintln!("warning: the credential expires in less than 15 minutes");
    }

    if let Some(profile) = &args.write_profile {
        let home =
            std::env::var_os("HOME").ok_or_else(|| Error::Usage("`HOME` is not set".to_owned()))?;
        let path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(&home).join(".aws/credentials"));
        open::write_profile(&path, profile, &credential)
            .map_err(|e| Error::Open(e.to_string(), e.hint().map(str::to_owned)))?;
        eprintln!("wrote profile `{profile}` to `{}`", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    // The credential stays in buffers that are zeroized when dropped, up to the write itself.
    let text = match args.format {
        OpenFormat::Json => plaintext,
        OpenFormat::Env => bytes(open::render_env(&credential)),
        OpenFormat::CredentialProcess => bytes(open::render_credential_process(&credential)),
    };
    std::io::stdout()
        .write_all(&text)
        .map_err(|source| Error::Io {
            action: "write",
            path: PathBuf::from("stdout"),
            source,
        })?;
    Ok(ExitCode::SUCCESS)
}

/// The bytes of a secret text, moved rather than copied, so no unzeroized copy is left.
fn bytes(mut text: Zeroizing<String>) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(std::mem::take(&mut *text).into_bytes())
}

fn format_left(left: jiff::SignedDuration) -> String {
    let minutes = left.as_secs() / 60;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

#[derive(Debug, clap::Args)]
pub struct CodeownersArgs {
    /// Write nothing; exit 1 when `.github/CODEOWNERS` differs from the catalog.
    #[arg(long, conflicts_with = "write")]
    check: bool,
    /// Write `.github/CODEOWNERS` instead of printing it.
    #[arg(long)]
    write: bool,
}

pub fn codeowners(
    args: &CodeownersArgs,
    grants_dir: PathBuf,
    today: Date,
) -> Result<ExitCode, Error> {
    let catalog = super::read_catalog(&grants_dir, today)?;
    let text = codeowners::render(&catalog);
    let path = PathBuf::from(CODEOWNERS_FILE);
    if args.check {
        if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("error: `{CODEOWNERS_FILE}` differs from the venue catalog's approvers");
        eprintln!("  = hint: run `stsgrant codeowners --write` and commit the result");
        return Ok(ExitCode::from(1));
    }
    if args.write {
        stsgrant::output::write_atomically(&path, text.as_bytes(), 0o644).map_err(|source| {
            Error::Io {
                action: "write",
                path: path.clone(),
                source,
            }
        })?;
        eprintln!("wrote {CODEOWNERS_FILE}");
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Delete the files of grants past their `not_after`.
    #[arg(long)]
    write: bool,
}

pub fn prune(args: &PruneArgs, grants_dir: PathBuf, today: Date) -> Result<ExitCode, Error> {
    let checked = check::check(&CheckOptions {
        grants_dir,
        paths: Vec::new(),
        today,
    });
    let expired: Vec<_> = checked
        .grants
        .iter()
        .filter(|g| g.grant.not_after.parse::<Date>().is_ok_and(|d| d < today))
        .collect();
    for grant in &expired {
        println!("{}", grant.file.path.display());
        if args.write {
            fs::remove_file(&grant.file.path).map_err(|source| Error::Io {
                action: "remove",
                path: grant.file.path.clone(),
                source,
            })?;
        }
    }
    let verb = if args.write {
        "removed"
    } else {
        "past `not_after`"
    };
    eprintln!("{} grant(s) {verb}", expired.len());
    Ok(if expired.is_empty() || args.write {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
