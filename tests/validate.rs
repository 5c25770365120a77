//! `stsgrant validate` end to end: the example grants, every invalid fixture with its exact
//! diagnostic and position, path binding, misplaced files and links, and the output formats.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

const TODAY: &str = "2026-12-03";

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary repository holding the example catalog and nothing else.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let grants = dir.path().join("grants");
        fs::create_dir_all(grants.join("unity/dev")).expect("folders");
        fs::copy(
            repository_root().join("grants/venues.yaml"),
            grants.join("venues.yaml"),
        )
        .expect("catalog");
        Repo { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().expect("has a folder")).expect("folders");
        fs::write(&path, bytes).expect("written");
        path
    }

    fn validate(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_stsgrant"))
            .current_dir(self.dir.path())
            .env("STSGRANT_TODAY", TODAY)
            .arg("validate")
            .args(args)
            .output()
            .expect("stsgrant runs")
    }

    fn validate_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let output = self.validate(&all);
        let json = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
        (output.status.code().expect("exit code"), json)
    }
}

/// `(code, line, column)` of every diagnostic.
fn findings(json: &serde_json::Value) -> Vec<(String, u64, u64)> {
    json["diagnostics"]
        .as_array()
        .expect("a list of diagnostics")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().expect("code").to_owned(),
                d["line"].as_u64().unwrap_or(0),
                d["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn the_example_grants_are_valid() {
    let output = Command::new(env!("CARGO_BIN_EXE_stsgrant"))
        .current_dir(repository_root())
        .env("STSGRANT_TODAY", TODAY)
        .arg("validate")
        .output()
        .expect("stsgrant runs");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "3 grant(s) valid\n"
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn valid_fixtures_are_valid() {
    for entry in fs::read_dir(repository_root().join("tests/fixtures/valid")).expect("fixtures") {
        let source = entry.expect("entry").path();
        let repo = Repo::new();
        let name = source
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        repo.write(
            &format!("grants/unity/dev/{name}"),
            &fs::read(&source).expect("fixture"),
        );
        let (code, json) = repo.validate_json(&[]);
        assert_eq!(findings(&json), vec![], "{name}");
        assert_eq!(code, 0, "{name}");
    }
}

/// Checks every file of a fixture folder against its `expected.txt` (`<file> <code>
/// <line>:<column>` of the first diagnostic), placing each file at `place` in a fresh
/// repository; `{name}` in `place` stands for the fixture's file name.
fn check_fixture_folder(folder: &str, place: &str) {
    let folder = repository_root().join(folder);
    let expected = fs::read_to_string(folder.join("expected.txt")).expect("expected.txt");
    let mut seen = 0;
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let [name, code, position] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("malformed line in expected.txt: {line}");
        };
        let (want_line, want_column) = position.split_once(':').expect("line:column");
        let repo = Repo::new();
        let place = place.replace("{name}", name);
        repo.write(&place, &fs::read(folder.join(name)).expect("fixture"));
        let started = std::time::Instant::now();
        let (exit, json) = repo.validate_json(&[]);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{name} took too long"
        );
        let found = findings(&json);
        assert_eq!(exit, 1, "{name}: {found:?}");
        let want = (
            code.to_owned(),
            want_line.parse().expect("line"),
            want_column.parse().expect("column"),
        );
        assert_eq!(found.first(), Some(&want), "{name}: {found:?}");
        assert_eq!(json["diagnostics"][0]["file"], place, "{name}");
        seen += 1;
    }
    let fixtures = fs::read_dir(&folder).expect("folder").count() - 1;
    assert_eq!(seen, fixtures, "every fixture has a line in expected.txt");
}

#[test]
fn each_invalid_grant_gives_its_diagnostic_at_its_position() {
    check_fixture_folder("tests/fixtures/invalid", "grants/unity/dev/{name}");
}

#[test]
fn each_invalid_catalog_gives_its_diagnostic_at_its_position() {
    check_fixture_folder("tests/fixtures/invalid-venues", "grants/venues.yaml");
}

#[test]
fn a_grant_copied_into_another_venue_fails_path_binding() {
    let repo = Repo::new();
    let example =
        fs::read(repository_root().join("grants/unity/dev/alice-upload.yaml")).expect("example");
    repo.write("grants/unity/test/alice-upload.yaml", &example);
    let output = repo.validate(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "grants/unity/test/alice-upload.yaml:3:8: error[path-binding]: the grant names venue `dev` but is in the folder of venue `test`\n  |\n3 | venue: dev\n  |        ^^^\n"
        ),
        "{stderr}"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn misplaced_files_links_and_outside_paths_are_reported_not_read() {
    let repo = Repo::new();
    repo.write("grants/unity/stray.yaml", b"a: 1\n");
    repo.write("grants/unity/dev/notes.txt", b"hello\n");
    repo.write("grants/unity/dev/Upper.yaml", b"a: 1\n");
    repo.write("secret.yaml", b"password: hunter2\n");
    std::os::unix::fs::symlink(
        repo.path("secret.yaml"),
        repo.path("grants/unity/dev/link.yaml"),
    )
    .expect("symlink");
    let (exit, json) = repo.validate_json(&[]);
    assert_eq!(exit, 1);
    let by_file: Vec<(String, String)> = json["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| {
            (
                d["file"].as_str().expect("file").to_owned(),
                d["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by_file,
        vec![
            (
                "grants/unity/dev/Upper.yaml".to_owned(),
                "grant-path".to_owned()
            ),
            (
                "grants/unity/dev/link.yaml".to_owned(),
                "symlink".to_owned()
            ),
            (
                "grants/unity/dev/notes.txt".to_owned(),
                "grant-path".to_owned()
            ),
            (
                "grants/unity/stray.yaml".to_owned(),
                "grant-path".to_owned()
            ),
        ]
    );
    assert!(!String::from_utf8_lossy(&repo.validate(&[]).stderr).contains("hunter2"));

    let (exit, json) = repo.validate_json(&["grants/../secret.yaml"]);
    assert_eq!(exit, 1);
    assert_eq!(findings(&json), vec![("grant-path".to_owned(), 0, 0)]);
}

#[test]
fn a_huge_file_is_refused_unread() {
    let repo = Repo::new();
    let mut text = String::from("reason: |\n");
    while text.len() <= 300 * 1024 {
        text.push_str("  lorem ipsum dolor sit amet\n");
    }
    repo.write("grants/unity/dev/huge.yaml", text.as_bytes());
    let (exit, json) = repo.validate_json(&[]);
    assert_eq!(exit, 1);
    assert_eq!(json["diagnostics"][0]["code"], "file-too-large");
    assert_eq!(
        json["diagnostics"][0]["message"],
        "the file is larger than 256 KiB"
    );
}

#[test]
fn two_grants_with_one_name_are_duplicates() {
    let repo = Repo::new();
    let example =
        fs::read(repository_root().join("tests/fixtures/valid/minimal.yaml")).expect("fixture");
    repo.write("grants/unity/dev/dana.yaml", &example);
    repo.write("grants/unity/dev/dana.yml", &example);
    let (exit, json) = repo.validate_json(&[]);
    assert_eq!(exit, 1);
    assert_eq!(json["diagnostics"][0]["code"], "duplicate-grant");
    assert_eq!(json["diagnostics"][0]["file"], "grants/unity/dev/dana.yml");
}

#[test]
fn github_format_puts_escaped_annotations_on_the_file() {
    let repo = Repo::new();
    let fixture = repository_root().join("tests/fixtures/invalid/duration-too-long.yaml");
    repo.write(
        "grants/unity/dev/long.yaml",
        &fs::read(fixture).expect("fixture"),
    );
    let output = repo.validate(&["--format", "github"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "::error file=grants/unity/dev/long.yaml,line=9,col=11,title=stsgrant duration::duration `13h` is longer than venue `unity/dev` allows (`12h`)%0Ahint: ask for `12h` or less\n"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn the_committed_schemas_match_the_code() {
    let output = Command::new(env!("CARGO_BIN_EXE_stsgrant"))
        .current_dir(repository_root())
        .args(["schema", "--check"])
        .output()
        .expect("stsgrant runs");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_broken_catalog_is_reported_and_no_grant_passes() {
    let repo = Repo::new();
    repo.write(
        "grants/venues.yaml",
        b"venues:\n  - project: unity\n    venue: dev\n    account_id: \"12345\"\n",
    );
    repo.write(
        "grants/unity/dev/dana.yaml",
        &fs::read(repository_root().join("tests/fixtures/valid/minimal.yaml")).expect("fixture"),
    );
    let (exit, json) = repo.validate_json(&[]);
    assert_eq!(exit, 1);
    assert_eq!(json["diagnostics"][0]["file"], "grants/venues.yaml");
    assert_eq!(json["diagnostics"][0]["code"], "schema");
}
