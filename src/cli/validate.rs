//! `stsgrant validate` and `stsgrant schema`.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use jiff::civil::Date;

use stsgrant::check::{self, CheckOptions, schema};
use stsgrant::diagnostic::{self, Format};

use super::Error;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Grant files or folders to check (default: every grant under the grants folder).
    paths: Vec<PathBuf>,
    /// How to print problems.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub fn validate(args: &ValidateArgs, grants_dir: PathBuf, today: Date) -> Result<ExitCode, Error> {
    let options = CheckOptions {
        grants_dir,
        paths: args.paths.clone(),
        today,
    };
    let checked = check::check(&options);
    match args.format {
        Format::Human => {
            eprint!("{}", diagnostic::render_human(&checked.diagnostics));
            let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
            let grants = checked.grants.len();
            if errors == 0 {
                eprintln!("{grants} grant(s) valid");
            } else {
                eprintln!(
                    "{errors} error(s) in {} file(s) checked",
                    checked.files_checked
                );
            }
        }
        Format::Github => print!("{}", diagnostic::render_github(&checked.diagnostics)),
        Format::Json => print!(
            "{}",
            diagnostic::render_json(&checked.diagnostics, checked.files_checked)
        ),
    }
    Ok(if checked.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// The folder the schemas are written to.
    #[arg(long, default_value = "schemas")]
    out: PathBuf,
    /// Write nothing; exit 1 when the files in the folder differ from the code.
    #[arg(long)]
    check: bool,
}

pub fn schema(args: &SchemaArgs) -> Result<ExitCode, Error> {
    let mut stale = Vec::new();
    for (name, value) in [
        ("grant.schema.json", schema::grant_schema()),
        ("venues.schema.json", schema::catalog_schema()),
    ] {
        let path = args.out.join(name);
        let mut text = serde_json::to_string_pretty(&value).expect("a schema serializes");
        text.push('\n');
        if args.check {
            if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path);
            }
            continue;
        }
        fs::create_dir_all(&args.out).map_err(|source| Error::Io {
            action: "create",
            path: args.out.clone(),
            source,
        })?;
        fs::write(&path, text).map_err(|source| Error::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
        eprintln!("wrote {}", path.display());
    }
    for path in &stale {
        eprintln!(
            "error: `{}` differs from the schema the code generates",
            path.display()
        );
        eprintln!("  = hint: run `stsgrant schema` and commit the result");
    }
    Ok(if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
