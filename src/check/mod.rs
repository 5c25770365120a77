//! `stsgrant validate`: every grant file read, checked against the schema and the rules.
//!
//! Checking never stops at the first problem: every file is read, every problem collected,
//! and the caller reports them once. A grant with any error is left out of the valid set, so
//! nothing is ever planned or issued for it, while the other grants go on.

pub mod rules;
pub mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::civil::Date;
use serde::Deserialize as _;
use sha2::{Digest as _, Sha256};

use crate::codeowners::{CODEOWNERS_FILE, Owned};
use crate::diagnostic::{Code, Diagnostic};
use crate::grant::{Grant, GrantId};
use crate::load::{self, CATALOG_FILE, GrantFile};
use crate::venue::Catalog;
use crate::yaml;

use self::rules::Source;
use self::schema::Schemas;

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The grants folder, holding the catalog and `<project>/<venue>/` folders.
    pub grants_dir: PathBuf,
    /// Files or folders inside it to check; all grants when empty.
    pub paths: Vec<PathBuf>,
    /// The day (UTC) that `not_after` dates are compared with.
    pub today: Date,
}

/// A grant file that parsed and matched its schema.
#[derive(Debug, Clone)]
pub struct CheckedGrant {
    /// Where it is and what it applies to.
    pub file: GrantFile,
    /// Its content.
    pub grant: Grant,
    /// The file's text, for its digest.
    source: String,
    /// Whether any error was found in it.
    pub has_errors: bool,
}

impl CheckedGrant {
    /// Project, venue and name.
    pub fn id(&self) -> &GrantId {
        &self.file.id
    }

    /// `sha256:` of the file's bytes; a changed file is a new grant revision. Computed on
    /// demand, since only planning needs it.
    pub fn digest(&self) -> String {
        format!("sha256:{:x}", Sha256::digest(self.source.as_bytes()))
    }
}

/// Everything `validate` found.
#[derive(Debug)]
pub struct Checked {
    /// The venue catalog, when it could be read.
    pub catalog: Option<Catalog>,
    /// The grants that could be read, with or without errors.
    pub grants: Vec<CheckedGrant>,
    /// Every problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were read.
    pub files_checked: usize,
}

impl Checked {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The grants that can be planned and issued.
    pub fn valid_grants(&self) -> impl Iterator<Item = &CheckedGrant> {
        self.grants.iter().filter(|g| !g.has_errors)
    }
}

/// Reads and checks the catalog and the grants.
pub fn check(options: &CheckOptions) -> Checked {
    let schemas = Schemas::new();
    let catalog_path = options.grants_dir.join(CATALOG_FILE);
    let mut diagnostics = Vec::new();
    let catalog = read_catalog(&schemas, &catalog_path, &mut diagnostics);
    let found = load::find_grants(&options.grants_dir, &options.paths);
    diagnostics.extend(found.diagnostics);

    let files_checked = found.grants.len() + 1;
    let mut grants = Vec::with_capacity(found.grants.len());
    for (grant, grant_diagnostics) in
        read_grants(&schemas, catalog.as_ref(), found.grants, options.today)
    {
        grants.extend(grant);
        diagnostics.extend(grant_diagnostics);
    }
    diagnostics.extend(check_across(catalog.as_ref(), &mut grants, options.today));
    diagnostics.extend(check_owners(&options.grants_dir, &mut grants));

    Checked {
        catalog,
        grants,
        diagnostics,
        files_checked,
    }
}

/// A grant file's outcome: the grant when it could be read, and its problems.
type GrantResult = (Option<CheckedGrant>, Vec<Diagnostic>);

/// Reads and checks grant files on every core, keeping their order.
fn read_grants(
    schemas: &Schemas,
    catalog: Option<&Catalog>,
    files: Vec<GrantFile>,
    today: Date,
) -> Vec<GrantResult> {
    let read_one = |file: GrantFile| {
        let mut diagnostics = Vec::new();
        let grant = read_grant(schemas, catalog, file, today, &mut diagnostics);
        (grant, diagnostics)
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || files.len() < 64 {
        return files.into_iter().map(read_one).collect();
    }
    // Workers take the next file as they finish the last, so a slow disk read or a large
    // file holds up one worker, not a whole share of the files.
    let queue = Mutex::new(files.into_iter().enumerate());
    let mut done: Vec<(usize, GrantResult)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let next = queue
                            .lock()
                            .expect("no worker panics holding the queue")
                            .next();
                        let Some((i, file)) = next else { break };
                        mine.push((i, read_one(file)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("checking a grant does not panic"))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
}

fn read_catalog(
    schemas: &Schemas,
    path: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Catalog> {
    let text = match load::read_text(path) {
        Ok(text) => text,
        Err(d) => {
            diagnostics.push(d.with_hint("the venue catalog lives at `grants/venues.yaml`"));
            return None;
        }
    };
    let doc = match yaml::parse(&text) {
        Ok(doc) => doc,
        Err(e) => {
            diagnostics.push(yaml_diagnostic(path, &text, e));
            return None;
        }
    };
    let schema_errors = schemas.check_catalog(path, &text, &doc);
    if !schema_errors.is_empty() {
        diagnostics.extend(schema_errors);
        return None;
    }
    let catalog = Catalog::deserialize(&doc.value).ok()?;
    let source = Source {
        file: path,
        text: &text,
        doc: &doc,
    };
    let before = diagnostics.len();
    for index in 0..catalog.venues.len() {
        diagnostics.extend(rules::check_venue(&source, &catalog, index));
    }
    let venue_errors = diagnostics[before..].iter().any(Diagnostic::is_error);
    (!venue_errors).then_some(catalog)
}

fn read_grant(
    schemas: &Schemas,
    catalog: Option<&Catalog>,
    file: GrantFile,
    today: Date,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CheckedGrant> {
    match load::read_text(&file.path) {
        Ok(text) => check_grant_text(schemas, catalog, file, text, today, diagnostics),
        Err(d) => {
            diagnostics.push(*d);
            None
        }
    }
}

/// Checks the text of one grant file, as [`check`] does for each file it reads; problems are
/// added to `diagnostics`, and the grant is returned when it could be read at all.
pub fn check_grant_text(
    schemas: &Schemas,
    catalog: Option<&Catalog>,
    file: GrantFile,
    text: String,
    today: Date,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CheckedGrant> {
    let path = file.path.clone();
    let doc = match yaml::parse(&text) {
        Ok(doc) => doc,
        Err(e) => {
            diagnostics.push(yaml_diagnostic(&path, &text, e));
            return None;
        }
    };
    let schema_errors = schemas.check_grant(&path, &text, &doc);
    if !schema_errors.is_empty() {
        diagnostics.extend(schema_errors);
        return None;
    }
    let grant = match Grant::deserialize(&doc.value) {
        Ok(grant) => grant,
        Err(error) => {
            let source = Source {
                file: &path,
                text: &text,
                doc: &doc,
            };
            diagnostics.push(source.error("", Code::Schema, error.to_string()));
            return None;
        }
    };

    let id = &file.id;
    let source = Source {
        file: &path,
        text: &text,
        doc: &doc,
    };
    let before = diagnostics.len();
    match catalog.and_then(|c| c.find(&id.project, &id.venue)) {
        Some(venue) => diagnostics.extend(rules::check_grant(&source, id, &grant, venue, today)),
        None if catalog.is_some() => diagnostics.push(
            Diagnostic::file_error(
                &path,
                Code::UnknownVenue,
                format!("no venue `{}/{}` in the catalog", id.project, id.venue),
            )
            .with_hint("admins add venues to `grants/venues.yaml`"),
        ),
        None => {}
    }
    let has_errors = catalog.is_none() || diagnostics[before..].iter().any(Diagnostic::is_error);
    Some(CheckedGrant {
        file,
        grant,
        source: text,
        has_errors,
    })
}

/// Rules across grants: one name per venue, one session name per role.
fn check_across(
    catalog: Option<&Catalog>,
    grants: &mut [CheckedGrant],
    today: Date,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let Some(catalog) = catalog else { return found };
    let mut names: HashMap<GrantId, usize> = HashMap::new();
    let mut sessions: HashMap<(String, String), usize> = HashMap::new();
    for i in 0..grants.len() {
        let id = grants[i].id().clone();
        let folded = GrantId {
            name: id.name.to_lowercase(),
            ..id.clone()
        };
        if let Some(&first) = names.get(&folded) {
            found.push(
                Diagnostic::file_error(
                    &grants[i].file.path,
                    Code::DuplicateGrant,
                    format!(
                        "grant `{id}` is also defined by `{}`",
                        grants[first].file.path.display()
                    ),
                )
                .with_hint("keep one file per grant name"),
            );
            grants[i].has_errors = true;
            continue;
        }
        names.insert(folded, i);
        let Some(venue) = catalog.find(&id.project, &id.venue) else {
            continue;
        };
        let key = (
            catalog.role_arn(venue),
            grants[i].grant.session_name(&id, today),
        );
        if let Some(&first) = sessions.get(&key) {
            found.push(
                Diagnostic::file_error(
                    &grants[i].file.path,
                    Code::SessionName,
                    format!(
                        "session name `{}` on role `{}` is also used by `{}`",
                        key.1,
                        key.0,
                        grants[first].file.path.display()
                    ),
                )
                .with_hint("CloudTrail tells sessions apart by name; rename one of the grants"),
            );
            grants[i].has_errors = true;
        } else {
            sessions.insert(key, i);
        }
    }
    found
}

/// When the repository has a CODEOWNERS file, every grant must have an owner in it; a grant
/// nobody owns could be merged without the venue's approval.
fn check_owners(grants_dir: &Path, grants: &mut [CheckedGrant]) -> Vec<Diagnostic> {
    let repository = grants_dir.parent().unwrap_or(Path::new(""));
    let Ok(text) = std::fs::read_to_string(repository.join(CODEOWNERS_FILE)) else {
        return Vec::new();
    };
    let owned = Owned::parse(&text);
    let mut found = Vec::new();
    for grant in grants.iter_mut() {
        let relative = grant
            .file
            .path
            .strip_prefix(repository)
            .unwrap_or(&grant.file.path);
        if !owned.covers(&relative.to_string_lossy()) {
            found.push(
                Diagnostic::file_error(
                    &grant.file.path,
                    Code::Codeowners,
                    format!(
                        "no `{CODEOWNERS_FILE}` entry covers this grant, so no approver is required"
                    ),
                )
                .with_hint("add its venue to the catalog and run `stsgrant codeowners --write`"),
            );
            grant.has_errors = true;
        }
    }
    found
}

fn yaml_diagnostic(path: &Path, text: &str, error: yaml::YamlError) -> Diagnostic {
    let d = Diagnostic::error_at(path, text, error.position, error.code, error.message);
    match error.hint {
        Some(hint) => d.with_hint(hint),
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_catalog_leaves_no_grant_to_issue() {
        let dir = tempfile::tempdir().expect("temp dir");
        let grants_dir = dir.path().join("grants");
        std::fs::create_dir_all(grants_dir.join("unity/dev")).expect("folders");
        std::fs::write(
            grants_dir.join("venues.yaml"),
            "venues:\n  - project: unity\n",
        )
        .expect("catalog");
        let grant = include_str!("../../tests/fixtures/valid/minimal.yaml");
        std::fs::write(grants_dir.join("unity/dev/dana.yaml"), grant).expect("grant");
        let today = jiff::civil::date(2026, 12, 3);
        let checked = check(&CheckOptions {
            grants_dir,
            paths: Vec::new(),
            today,
        });
        assert!(checked.catalog.is_none());
        assert_eq!(checked.grants.len(), 1, "the grant itself was read");
        assert_eq!(checked.valid_grants().count(), 0, "but none can be issued");
        assert!(
            checked
                .diagnostics
                .iter()
                .all(|d| d.file.ends_with("venues.yaml"))
        );
    }
}
