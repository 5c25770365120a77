//! Problems found in grant files, and the three ways of showing them.
//!
//! Every problem, from a stray tab to a duration longer than the venue allows, becomes one
//! [`Diagnostic`] that points at a file, a line and a column. The human form reads like a
//! compiler's (`path:line:col: error[code]: message` with the YAML line under it), the GitHub
//! form is a workflow command that puts the message on the pull request's diff, and the JSON
//! form is for machines. Codes are stable names that tests and scripts can match on.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What kind of problem a diagnostic reports; the name is stable and shown in brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The file could not be read.
    Io,
    /// The file is larger than a grant can be.
    FileTooLarge,
    /// The file is not UTF-8.
    NotUtf8,
    /// The file starts with a byte order mark.
    ByteOrderMark,
    /// The file holds no document.
    EmptyFile,
    /// The YAML itself does not parse.
    YamlSyntax,
    /// An anchor or alias, which grants do not use.
    YamlAlias,
    /// A `!tag`, which grants do not use.
    YamlTag,
    /// More than one YAML document in a file.
    YamlMultipleDocuments,
    /// The same key twice in one mapping.
    YamlDuplicateKey,
    /// A key that is not a string.
    YamlNonStringKey,
    /// Nesting deeper than any grant needs.
    YamlTooDeep,
    /// `yes`, `no`, `on`, `off` and friends, which YAML 1.1 and 1.2 read differently.
    YamlAmbiguousBoolean,
    /// The document does not match the JSON Schema.
    Schema,
    /// A file under `grants/` that is not where a grant belongs.
    GrantPath,
    /// A grant whose `project` or `venue` is not the folder it is in.
    PathBinding,
    /// A symbolic link, which is never followed.
    Symlink,
    /// A grant in a folder that has no venue in the catalog.
    UnknownVenue,
    /// A problem in the venue catalog itself.
    Venue,
    /// An account id that is not twelve digits.
    AccountId,
    /// A role ARN that is not one.
    RoleArn,
    /// A session name that STS would refuse, or that another grant already uses.
    SessionName,
    /// A duration outside what STS or the venue allows.
    Duration,
    /// An ExternalId that STS would refuse.
    ExternalId,
    /// A session policy longer than STS accepts.
    PolicySize,
    /// A recipient that is not an age or SSH public key.
    Recipient,
    /// A `not_after` date in the past or too far ahead.
    NotAfter,
    /// Access that the venue does not offer.
    Access,
    /// Two grants with the same name in one venue.
    DuplicateGrant,
    /// A path not covered by any CODEOWNERS entry.
    Codeowners,
}

impl Code {
    /// The stable name, as shown in `error[name]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "io",
            Code::FileTooLarge => "file-too-large",
            Code::NotUtf8 => "not-utf8",
            Code::ByteOrderMark => "byte-order-mark",
            Code::EmptyFile => "empty-file",
            Code::YamlSyntax => "yaml-syntax",
            Code::YamlAlias => "yaml-alias",
            Code::YamlTag => "yaml-tag",
            Code::YamlMultipleDocuments => "yaml-multiple-documents",
            Code::YamlDuplicateKey => "yaml-duplicate-key",
            Code::YamlNonStringKey => "yaml-non-string-key",
            Code::YamlTooDeep => "yaml-too-deep",
            Code::YamlAmbiguousBoolean => "yaml-ambiguous-boolean",
            Code::Schema => "schema",
            Code::GrantPath => "grant-path",
            Code::PathBinding => "path-binding",
            Code::Symlink => "symlink",
            Code::UnknownVenue => "unknown-venue",
            Code::Venue => "venue",
            Code::AccountId => "account-id",
            Code::RoleArn => "role-arn",
            Code::SessionName => "session-name",
            Code::Duration => "duration",
            Code::ExternalId => "external-id",
            Code::PolicySize => "policy-size",
            Code::Recipient => "recipient",
            Code::NotAfter => "not-after",
            Code::Access => "access",
            Code::DuplicateGrant => "duplicate-grant",
            Code::Codeowners => "codeowners",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a diagnostic is: errors fail `validate`, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The grant cannot be issued.
    Error,
    /// Worth a look, but the grant can be issued.
    Warning,
}

/// A place in a file: 1-based line and column (in characters), and how many characters the
/// problem spans on that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    /// The line, counted from 1.
    pub line: usize,
    /// The column, counted from 1, in characters.
    pub column: usize,
    /// How many characters to underline; at least one is shown.
    #[serde(skip)]
    pub length: usize,
}

impl Position {
    /// A position with nothing in particular to underline.
    pub fn new(line: usize, column: usize) -> Self {
        Position {
            line,
            column,
            length: 1,
        }
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as the user named it or relative to the repository.
    pub file: PathBuf,
    /// Where in the file, when the problem has a place.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Error or warning.
    pub severity: Severity,
    /// The stable kind of problem.
    pub code: Code,
    /// What is wrong, in one lowercase sentence without a trailing period.
    pub message: String,
    /// What to do about it, when the user can act.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The line of the file under the position, for the human form.
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// An error about a whole file, with no position in it.
    pub fn file_error(file: &Path, code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_owned(),
            position: None,
            severity: Severity::Error,
            code,
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    /// An error at a position in a file whose text is `source`.
    pub fn error_at(
        file: &Path,
        source: &str,
        position: Position,
        code: Code,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            position: Some(position),
            source_line: source
                .lines()
                .nth(position.line.saturating_sub(1))
                .map(str::to_owned),
            ..Diagnostic::file_error(file, code, message)
        }
    }

    /// The same diagnostic with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same diagnostic as a warning.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Whether this diagnostic fails validation.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The output formats of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line:col: error[code]: message`, with the YAML line under it.
    Human,
    /// GitHub workflow commands, so problems show on the pull request's diff.
    Github,
    /// One JSON document with every diagnostic.
    Json,
}

/// Renders diagnostics in the human form.
pub fn render_human(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = write!(out, "{}", d.file.display());
        if let Some(p) = d.position {
            let _ = write!(out, ":{}:{}", p.line, p.column);
        }
        let _ = writeln!(out, ": {severity}[{}]: {}", d.code, d.message);
        if let (Some(p), Some(line)) = (d.position, &d.source_line) {
            let gutter = " ".repeat(p.line.to_string().len());
            let line = line.replace('\t', " ");
            let pad = " ".repeat(p.column.saturating_sub(1));
            let carets = "^".repeat(p.length.max(1));
            let _ = writeln!(
                out,
                "{gutter} |\n{} | {line}\n{gutter} | {pad}{carets}",
                p.line
            );
        }
        if let Some(hint) = &d.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
    }
    out
}

/// Renders diagnostics as GitHub workflow commands (`::error file=…,line=…,col=…::…`).
pub fn render_github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let file = d.file.to_string_lossy();
        let _ = write!(out, "::{command} file={}", escape_property(&file));
        if let Some(p) = d.position {
            let _ = write!(out, ",line={},col={}", p.line, p.column);
        }
        let title = format!("stsgrant {}", d.code);
        let mut message = d.message.clone();
        if let Some(hint) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(hint);
        }
        let _ = writeln!(
            out,
            ",title={}::{}",
            escape_property(&title),
            escape_data(&message)
        );
    }
    out
}

/// Renders diagnostics as one JSON document: `{"valid": bool, "diagnostics": [...]}`.
pub fn render_json(diagnostics: &[Diagnostic], files_checked: usize) -> String {
    #[derive(Serialize)]
    struct Report<'a> {
        valid: bool,
        files_checked: usize,
        errors: usize,
        warnings: usize,
        diagnostics: &'a [Diagnostic],
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let report = Report {
        valid: errors == 0,
        files_checked,
        errors,
        warnings: diagnostics.len() - errors,
        diagnostics,
    };
    let mut json =
        serde_json::to_string_pretty(&report).expect("a report of strings and numbers serializes");
    json.push('\n');
    json
}

/// Escapes the message of a workflow command, as the runner expects.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property of a workflow command, where `:` and `,` are separators too.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        let source = "duration: 13h\nreason: x\n";
        let position = Position {
            line: 1,
            column: 11,
            length: 3,
        };
        Diagnostic::error_at(
            Path::new("grants/a/b/c.yaml"),
            source,
            position,
            Code::Duration,
            "too long",
        )
        .with_hint("ask for `12h` or less")
    }

    #[test]
    fn human_form_shows_the_line_and_underlines_the_value() {
        assert_eq!(
            render_human(&[sample()]),
            "grants/a/b/c.yaml:1:11: error[duration]: too long\n  |\n1 | duration: 13h\n  |           ^^^\n  = hint: ask for `12h` or less\n"
        );
    }

    #[test]
    fn github_form_escapes_percent_and_newlines_and_property_separators() {
        let mut d = sample();
        d.file = PathBuf::from("grants/a,b/c:d.yaml");
        d.message = "100% wrong\r\nreally".into();
        assert_eq!(
            render_github(&[d]),
            "::error file=grants/a%2Cb/c%3Ad.yaml,line=1,col=11,title=stsgrant duration::100%25 wrong%0D%0Areally%0Ahint: ask for `12h` or less\n"
        );
    }

    #[test]
    fn json_form_counts_errors_and_names_codes() {
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&[sample()], 3)).expect("valid JSON");
        assert_eq!(json["valid"], false);
        assert_eq!(json["files_checked"], 3);
        assert_eq!(json["diagnostics"][0]["code"], "duration");
        assert_eq!(json["diagnostics"][0]["line"], 1);
        assert_eq!(json["diagnostics"][0]["column"], 11);
    }
}
