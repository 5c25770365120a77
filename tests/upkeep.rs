//! The GitOps helpers against real git repositories in temporary folders: `--changed-since`,
//! `codeowners`, `prune`; and `open` on a sealed credential.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .current_dir(dir)
        .env("STSGRANT_TODAY", "2026-12-03")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .args(args)
        .output()
        .expect("the command runs")
}

fn stsgrant(dir: &Path, args: &[&str]) -> Output {
    run(dir, env!("CARGO_BIN_EXE_stsgrant"), args)
}

fn git(dir: &Path, args: &[&str]) {
    let output = run(dir, "git", args);
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A git repository holding a copy of the example grants, committed.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = run(
        dir.path(),
        "cp",
        &[
            "-r",
            &repository_root().join("grants").display().to_string(),
            ".",
        ],
    );
    assert!(copy.status.success());
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "examples"]);
    dir
}

fn plan_grants(output: &Output) -> Vec<String> {
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("plan JSON");
    plan["grants"]
        .as_array()
        .expect("list")
        .iter()
        .map(|g| g["grant"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn changed_since_plans_only_the_grants_a_commit_added_or_changed() {
    let dir = repo();
    let base =
        String::from_utf8(run(dir.path(), "git", &["rev-parse", "HEAD"]).stdout).expect("sha");
    let base = base.trim();
    let carol = dir.path().join("grants/unity/test/carol-read.yaml");
    fs::write(
        &carol,
        fs::read_to_string(&carol).expect("grant") + "revision: 2\n",
    )
    .expect("edited");
    fs::remove_file(dir.path().join("grants/unity/dev/bob-images.yaml")).expect("removed");
    git(dir.path(), &["commit", "-qam", "bump carol, drop bob"]);

    let args = [
        "plan",
        "--format",
        "json",
        "--records",
        "file:records",
        "--changed-since",
        base,
    ];
    let output = stsgrant(dir.path(), &args);
    assert_eq!(
        plan_grants(&output),
        ["unity/test/carol-read"],
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let head = [
        "plan",
        "--format",
        "json",
        "--records",
        "file:records",
        "--changed-since",
        "HEAD",
    ];
    assert_eq!(
        plan_grants(&stsgrant(dir.path(), &head)),
        Vec::<String>::new()
    );

    let catalog = dir.path().join("grants/venues.yaml");
    fs::write(
        &catalog,
        fs::read_to_string(&catalog).expect("catalog") + "\n",
    )
    .expect("edited");
    fs::write(&carol, fs::read_to_string(&carol).expect("grant") + "\n").expect("edited");
    git(dir.path(), &["commit", "-qam", "catalog and grant at once"]);
    let markdown = stsgrant(
        dir.path(),
        &[
            "plan",
            "--format",
            "markdown",
            "--records",
            "file:records",
            "--changed-since",
            "HEAD~1",
        ],
    );
    assert!(String::from_utf8_lossy(&markdown.stdout)
        .contains("> **Note:** this change edits the venue catalog and grants at once; review the catalog change first"));

    let unknown = stsgrant(dir.path(), &["plan", "--changed-since", "no-such-commit"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).starts_with("error: `git diff --name-only --no-renames --diff-filter=ACMR no-such-commit -- grants` failed"));
}

#[test]
fn codeowners_check_fails_when_the_catalog_changes() {
    let dir = repo();
    fs::create_dir_all(dir.path().join(".github")).expect("folder");
    fs::copy(
        repository_root().join(".github/CODEOWNERS"),
        dir.path().join(".github/CODEOWNERS"),
    )
    .expect("copied");
    assert_eq!(
        stsgrant(dir.path(), &["codeowners", "--check"])
            .status
            .code(),
        Some(0)
    );

    let catalog = dir.path().join("grants/venues.yaml");
    let text = fs::read_to_string(&catalog)
        .expect("catalog")
        .replace("\"@carol\"", "\"@dave\"");
    fs::write(&catalog, text).expect("edited");
    let stale = stsgrant(dir.path(), &["codeowners", "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&stale.stderr),
        "error: `.github/CODEOWNERS` differs from the venue catalog's approvers\n  = hint: run `stsgrant codeowners --write` and commit the result\n"
    );
    assert_eq!(
        stsgrant(dir.path(), &["codeowners", "--write"])
            .status
            .code(),
        Some(0)
    );
    let written = fs::read_to_string(dir.path().join(".github/CODEOWNERS")).expect("written");
    assert!(
        written.contains("/grants/unity/test/ @unity-sds/test-admins @dave\n"),
        "{written}"
    );
    assert_eq!(
        stsgrant(dir.path(), &["codeowners", "--check"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn a_grant_no_codeowners_entry_covers_is_an_error() {
    let dir = repo();
    fs::create_dir_all(dir.path().join(".github")).expect("folder");
    fs::write(
        dir.path().join(".github/CODEOWNERS"),
        "/grants/unity/dev/ @unity-sds/dev-admins\n",
    )
    .expect("written");
    let output = stsgrant(dir.path(), &["validate", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        json["diagnostics"][0]["file"],
        "grants/unity/test/carol-read.yaml"
    );
    assert_eq!(json["diagnostics"][0]["code"], "codeowners");
    assert_eq!(json["diagnostics"].as_array().map(Vec::len), Some(1));
}

#[test]
fn the_iam_policy_files_are_policies() {
    for name in [
        "issuer-policy.json",
        "issuer-trust-policy.json",
        "venue-role-trust-policy.json",
    ] {
        let text =
            fs::read_to_string(repository_root().join("docs/iam").join(name)).expect("policy file");
        let policy: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(policy["Version"], "2012-10-17", "{name}");
        let statements = policy["Statement"].as_array().expect("statements");
        assert!(!statements.is_empty(), "{name}");
        for statement in statements {
            assert!(
                matches!(statement["Effect"].as_str(), Some("Allow" | "Deny")),
                "{name}"
            );
            assert!(
                statement["Action"].is_string() || statement["Action"].is_array(),
                "{name}"
            );
        }
    }
    let trust = fs::read_to_string(repository_root().join("docs/iam/issuer-trust-policy.json"))
        .expect("trust");
    let trust: serde_json::Value = serde_json::from_str(&trust).expect("JSON");
    let condition = &trust["Statement"][0]["Condition"]["StringEquals"];
    assert_eq!(
        condition["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    let subject = condition["token.actions.githubusercontent.com:sub"]
        .as_str()
        .expect("a pinned subject");
    assert!(
        subject.ends_with(":environment:stsgrant-issue") && !subject.contains('*'),
        "{subject}"
    );
}

#[test]
fn prune_lists_then_removes_expired_grants() {
    let dir = repo();
    let later = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stsgrant"))
            .current_dir(dir.path())
            .env("STSGRANT_TODAY", "2027-01-05")
            .args(args)
            .output()
            .expect("runs")
    };
    let listed = later(&["prune"]);
    assert_eq!(listed.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "grants/unity/test/carol-read.yaml\n"
    );
    assert!(
        dir.path()
            .join("grants/unity/test/carol-read.yaml")
            .exists()
    );

    let removed = later(&["prune", "--write"]);
    assert_eq!(removed.status.code(), Some(0));
    assert!(
        !dir.path()
            .join("grants/unity/test/carol-read.yaml")
            .exists()
    );
    assert!(
        dir.path()
            .join("grants/unity/dev/alice-upload.yaml")
            .exists()
    );
    assert_eq!(later(&["prune"]).status.code(), Some(0));
}

/// Seals a credential that expires at `expiration` to the example alice key, with the crate.
fn sealed_credential(dir: &Path, expiration: &str) -> PathBuf {
    let json = format!(
        "{{\n    \"Credentials\": {{\n        \"AccessKeyId\": \"ASIAEXAMPLE\",\n        \"SecretAccessKey\": \"secret-value\",\n        \"SessionToken\": \"token-value\",\n        \"Expiration\": \"{expiration}\"\n    }},\n    \"AssumedRoleUser\": {{\n        \"AssumedRoleId\": \"AROAEXAMPLE:alice\",\n        \"Arn\": \"arn:aws:sts::123456789012:assumed-role/r/alice\"\n    }}\n}}\n"
    );
    let recipient: stsgrant::seal::Recipient =
        "age1696lrwjl3v22nzaqph2rvsqjll5jkv4r03mftnfurha5e9ze6v5srm3x9z"
            .parse()
            .expect("recipient");
    let sealed = stsgrant::seal::seal(json.as_bytes(), &[recipient]).expect("sealed");
    let path = dir.join("credential.age");
    fs::write(&path, sealed).expect("written");
    path
}

#[test]
fn open_prints_each_format_and_refuses_what_it_cannot_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = repository_root().join("examples/identities/alice.txt");
    let identity = identity.to_str().expect("UTF-8 path");
    let future = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(2))
        .expect("in range");
    let file = sealed_credential(
        dir.path(),
        &future.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
    );
    let file = file.to_str().expect("UTF-8 path");

    let json = stsgrant(dir.path(), &["open", file, "-i", identity]);
    assert_eq!(json.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&json.stdout)
            .starts_with("{\n    \"Credentials\": {\n        \"AccessKeyId\": \"ASIAEXAMPLE\"")
    );
    assert!(
        String::from_utf8_lossy(&json.stderr)
            .starts_with("role `arn:aws:sts::123456789012:assumed-role/r/alice`, 1h59m left")
    );

    let env = stsgrant(
        dir.path(),
        &["open", file, "-i", identity, "--format", "env"],
    );
    assert!(String::from_utf8_lossy(&env.stdout).starts_with(
        "export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\nexport AWS_SECRET_ACCESS_KEY='secret-value'\n"
    ));

    let process = stsgrant(
        dir.path(),
        &[
            "open",
            file,
            "-i",
            identity,
            "--format",
            "credential-process",
        ],
    );
    let process: serde_json::Value = serde_json::from_slice(&process.stdout).expect("JSON");
    assert_eq!(process["Version"], 1);
    assert_eq!(process["SessionToken"], "token-value");

    let credentials = dir.path().join("aws/credentials");
    let profile = Command::new(env!("CARGO_BIN_EXE_stsgrant"))
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .args(["open", file, "-i", identity, "--write-profile", "venue"])
        .output()
        .expect("runs");
    assert_eq!(
        profile.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&profile.stderr)
    );
    assert_eq!(profile.stdout, b"");
    let written = fs::read_to_string(&credentials).expect("written");
    assert!(
        written.contains("[venue]\naws_access_key_id = ASIAEXAMPLE\n"),
        "{written}"
    );

    let other_key = repository_root().join("examples/identities/bob_ed25519");
    let _ = run(
        dir.path(),
        "chmod",
        &["600", other_key.to_str().expect("UTF-8")],
    );
    let wrong = stsgrant(
        dir.path(),
        &["open", file, "-i", other_key.to_str().expect("UTF-8")],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong.stderr)
            .contains("input was sealed to other keys than the identities given")
    );

    let expired = sealed_credential(dir.path(), "2020-01-01T00:00:00+00:00");
    let old = stsgrant(
        dir.path(),
        &["open", expired.to_str().expect("UTF-8"), "-i", identity],
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&old.stderr)
            .starts_with("error: the credential expired at 2020-01-01T00:00:00Z")
    );
    assert_eq!(old.stdout, b"");
}
