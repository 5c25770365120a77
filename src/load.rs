//! Finding grant files and binding each one to the project and venue of its folder.
//!
//! The folder is the authority: `grants/<project>/<venue>/<name>.yaml` is approved by the
//! venue's CODEOWNERS, so the project and venue are taken from the path and never from the
//! file. Anything under `grants/` that is not a grant, the catalog or a folder (a symbolic
//! link, a file at the wrong depth, a path that climbs out with `..`) is reported and never
//! followed or read.

use std::fs;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::diagnostic::{Code, Diagnostic, Position};
use crate::grant::GrantId;
use crate::yaml::MAX_FILE_BYTES;

/// The venue catalog's file name, directly under the grants folder.
pub const CATALOG_FILE: &str = "venues.yaml";
/// The longest grant name; it ends up in the session name, which STS limits to 64.
pub const MAX_GRANT_NAME: usize = 40;

/// A grant file found under the grants folder, not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantFile {
    /// The path as shown to the user (`grants/<project>/<venue>/<name>.yaml`).
    pub path: PathBuf,
    /// Project, venue and name, from the path.
    pub id: GrantId,
}

/// What a walk of the grants folder found.
#[derive(Debug, Default)]
pub struct Found {
    /// The grant files, sorted by path.
    pub grants: Vec<GrantFile>,
    /// Files and links that are not where a grant belongs.
    pub diagnostics: Vec<Diagnostic>,
}

/// Sorts paths under the grants folder into grants, the catalog and misplaced files.
struct Layout {
    grants: GlobSet,
}

impl Layout {
    fn new() -> Layout {
        let mut builder = GlobSetBuilder::new();
        for pattern in ["*/*/*.yaml", "*/*/*.yml"] {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .expect("the grant patterns are valid globs");
            builder.add(glob);
        }
        let grants = builder.build().expect("two valid globs build a set");
        Layout { grants }
    }
}

/// Finds the grant files under `grants_dir`, or those named in `paths` (files or folders
/// inside `grants_dir`). The catalog file is not a grant and is left out.
pub fn find_grants(grants_dir: &Path, paths: &[PathBuf]) -> Found {
    let layout = Layout::new();
    let mut found = Found::default();
    let roots = if paths.is_empty() {
        vec![grants_dir.to_owned()]
    } else {
        paths.to_vec()
    };
    for root in roots {
        let Some(relative) = relative_inside(grants_dir, &root) else {
            found.diagnostics.push(
                Diagnostic::file_error(
                    &root,
                    Code::GrantPath,
                    format!(
                        "`{}` is outside the grants folder `{}`",
                        root.display(),
                        grants_dir.display()
                    ),
                )
                .with_hint("grants live at `grants/<project>/<venue>/<name>.yaml`"),
            );
            continue;
        };
        walk(&layout, grants_dir, &relative, None, &mut found);
    }
    // One walk yields sorted, distinct paths already; several roots may overlap.
    if paths.len() > 1 {
        found.grants.sort_by(|a, b| a.path.cmp(&b.path));
        found.grants.dedup();
        found.diagnostics.sort_by(|a, b| a.file.cmp(&b.file));
        found.diagnostics.dedup();
    }
    found
}

/// `path` relative to `grants_dir`, when it lies inside it without climbing out with `..`.
fn relative_inside(grants_dir: &Path, path: &Path) -> Option<PathBuf> {
    let rest = path.strip_prefix(grants_dir).ok()?;
    let mut relative = PathBuf::new();
    for component in rest.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(relative)
}

/// Walks one path; `known` is its type when the listing of its folder already said, which
/// saves asking the file system again for every file.
fn walk(
    layout: &Layout,
    grants_dir: &Path,
    relative: &Path,
    known: Option<fs::FileType>,
    found: &mut Found,
) {
    let path = grants_dir.join(relative);
    let file_type =
        match known.map_or_else(|| fs::symlink_metadata(&path).map(|m| m.file_type()), Ok) {
            Ok(file_type) => file_type,
            Err(error) => {
                found.diagnostics.push(Diagnostic::file_error(
                    &path,
                    Code::Io,
                    format!("cannot read `{}`: {error}", path.display()),
                ));
                return;
            }
        };
    if file_type.is_symlink() {
        found.diagnostics.push(
            Diagnostic::file_error(
                &path,
                Code::Symlink,
                "symbolic links are not followed under the grants folder",
            )
            .with_hint("commit the grant itself, not a link to it"),
        );
        return;
    }
    if file_type.is_dir() {
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(error) => {
                found.diagnostics.push(Diagnostic::file_error(
                    &path,
                    Code::Io,
                    format!("cannot list `{}`: {error}", path.display()),
                ));
                return;
            }
        };
        let mut children: Vec<(std::ffi::OsString, Option<fs::FileType>)> = entries
            .filter_map(Result::ok)
            .map(|entry| (entry.file_name(), entry.file_type().ok()))
            .collect();
        children.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
        for (name, file_type) in children {
            walk(layout, grants_dir, &relative.join(name), file_type, found);
        }
        return;
    }
    if relative == Path::new(CATALOG_FILE) {
        return;
    }
    match bind(layout, relative) {
        Ok(id) => found.grants.push(GrantFile { path, id }),
        Err(message) => found.diagnostics.push(
            Diagnostic::file_error(&path, Code::GrantPath, message)
                .with_hint("grants live at `grants/<project>/<venue>/<name>.yaml`; the catalog is `grants/venues.yaml`"),
        ),
    }
}

/// Reads project, venue and grant name from a path relative to the grants folder.
fn bind(layout: &Layout, relative: &Path) -> Result<GrantId, String> {
    if !layout.grants.is_match(relative) {
        return Err(format!("`{}` is not a grant file", relative.display()));
    }
    let parts: Vec<&str> = relative.iter().filter_map(|part| part.to_str()).collect();
    let [project, venue, file] = parts[..] else {
        return Err(format!("`{}` is not valid UTF-8", relative.display()));
    };
    let name = file.trim_end_matches(".yaml").trim_end_matches(".yml");
    let valid_name = !name.is_empty()
        && name.len() <= MAX_GRANT_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_name {
        return Err(format!(
            "grant name `{name}` must be lowercase letters, digits and `-`, at most {MAX_GRANT_NAME} characters"
        ));
    }
    Ok(GrantId {
        project: project.to_owned(),
        venue: venue.to_owned(),
        name: name.to_owned(),
    })
}

/// Reads a grant or catalog file as UTF-8 text, within the size limit.
pub fn read_text(path: &Path) -> Result<String, Box<Diagnostic>> {
    let io_error = |error: std::io::Error| {
        Diagnostic::file_error(
            path,
            Code::Io,
            format!("cannot read `{}`: {error}", path.display()),
        )
    };
    let io_error = |error| Box::new(io_error(error));
    let file = fs::File::open(path).map_err(io_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Box::new(Diagnostic::file_error(
            path,
            Code::FileTooLarge,
            format!("the file is larger than {} KiB", MAX_FILE_BYTES / 1024),
        )));
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(Box::new(
            Diagnostic::error_at(
                path,
                "",
                Position::new(1, 1),
                Code::ByteOrderMark,
                "the file starts with a UTF-8 byte order mark",
            )
            .with_hint("save the file as UTF-8 without a BOM"),
        ));
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let text = String::from_utf8_lossy(valid);
        let line = text.matches('\n').count() + 1;
        let column = text
            .rsplit('\n')
            .next()
            .map_or(0, |last| last.chars().count())
            + 1;
        Box::new(
            Diagnostic::error_at(
                path,
                &text,
                Position::new(line, column),
                Code::NotUtf8,
                "the file is not valid UTF-8",
            )
            .with_hint("save the file as UTF-8"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_project_venue_and_name_from_the_path() {
        let layout = Layout::new();
        assert_eq!(
            bind(&layout, Path::new("unity/dev/alice-s3.yaml")),
            Ok(GrantId {
                project: "unity".into(),
                venue: "dev".into(),
                name: "alice-s3".into()
            })
        );
    }

    #[test]
    fn refuses_files_at_the_wrong_depth_or_with_odd_names() {
        let layout = Layout::new();
        assert_eq!(
            bind(&layout, Path::new("unity/alice.yaml")),
            Err("`unity/alice.yaml` is not a grant file".into())
        );
        assert_eq!(
            bind(&layout, Path::new("unity/dev/x/a.yaml")),
            Err("`unity/dev/x/a.yaml` is not a grant file".into())
        );
        assert_eq!(
            bind(&layout, Path::new("unity/dev/notes.txt")),
            Err("`unity/dev/notes.txt` is not a grant file".into())
        );
        assert_eq!(
            bind(&layout, Path::new("unity/dev/Alice.yaml")),
            Err(format!(
                "grant name `Alice` must be lowercase letters, digits and `-`, at most {MAX_GRANT_NAME} characters"
            ))
        );
    }

    #[test]
    fn paths_that_climb_out_are_not_inside() {
        let grants = Path::new("grants");
        assert_eq!(
            relative_inside(grants, Path::new("grants/a/./b")),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(
            relative_inside(grants, Path::new("grants/../etc/passwd")),
            None
        );
        assert_eq!(relative_inside(grants, Path::new("/etc/passwd")), None);
    }
}
