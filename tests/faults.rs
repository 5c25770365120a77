//! `stsgrant issue` on many grants while the AWS endpoint misbehaves: throttling, server
//! errors, slow answers, dropped connections, and a run killed midway. Every grant must end
//! issued exactly once or failed with a reason, and a re-run must issue exactly what is missing.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::faults::{Fault, FaultProxy, Request};
use support::moto::MotoServer;

const GRANTS: usize = 120;

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A grants folder with the example catalog and `GRANTS` grants in `unity/dev`, and a moto
/// server holding the venue's ExternalId.
struct Bench {
    dir: tempfile::TempDir,
    moto: MotoServer,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("grants/unity/dev");
        fs::create_dir_all(&folder).expect("folders");
        fs::copy(
            repository_root().join("grants/venues.yaml"),
            dir.path().join("grants/venues.yaml"),
        )
        .expect("catalog");
        let template =
            fs::read_to_string(repository_root().join("tests/fixtures/valid/minimal.yaml"))
                .expect("fixture");
        for i in 0..GRANTS {
            let grant = template
                .replace("Dana Example", &format!("User {i}"))
                .replace("dana@", &format!("user{i}@"));
            fs::write(folder.join(format!("user-{i}.yaml")), grant).expect("grant");
        }
        let moto = MotoServer::start();
        moto.put_parameter(
            "/unity/unity/dev/cs/sts/role/external-id",
            "unity-dev-demo-external-id",
            true,
        );
        moto.clear_recording();
        moto.start_recording();
        Bench { dir, moto }
    }

    fn command(&self, endpoint: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
        self.moto.configure(&mut command);
        command
            .current_dir(self.dir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("STSGRANT_TODAY", "2026-12-03")
            .args([
                "issue",
                "--jobs",
                "8",
                "--records",
                "file:records",
                "--out",
                "out",
                "--commit",
                "c0ffee",
            ])
            .args(extra);
        command
    }

    fn issue(&self, endpoint: &str, extra: &[&str]) -> Output {
        self.command(endpoint, extra)
            .output()
            .expect("stsgrant runs")
    }

    /// How many `sts:AssumeRole` calls reached the endpoint, by session name.
    fn assume_role_calls(&self) -> BTreeMap<String, usize> {
        let mut calls = BTreeMap::new();
        for call in self.moto.requests_for_action("AssumeRole") {
            *calls.entry(call["RoleSessionName"].clone()).or_default() += 1;
        }
        calls
    }

    /// Every issuance record, from `stsgrant audit`.
    fn records(&self) -> Vec<serde_json::Value> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
        let output = command
            .current_dir(self.dir.path())
            .args(["audit", "--records", "file:records", "--format", "json"])
            .output()
            .expect("audit runs");
        serde_json::from_slice(&output.stdout).expect("records JSON")
    }

    fn sealed_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.path().join("out/unity/dev"))
            .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Each grant issued exactly once: one sealed file, one issued record, one call to STS.
    fn assert_each_issued_once(&self) {
        let files = self.sealed_files();
        assert_eq!(
            files.len(),
            GRANTS,
            "one sealed file per grant and nothing else: {files:?}"
        );
        assert!(
            files
                .iter()
                .all(|f| f.extension().is_some_and(|e| e == "age")),
            "{files:?}"
        );
        let issued = self
            .records()
            .iter()
            .filter(|r| r["status"] == "issued")
            .count();
        assert_eq!(issued, GRANTS);
        let calls = self.assume_role_calls();
        assert_eq!(calls.len(), GRANTS);
        assert!(
            calls.values().all(|&n| n == 1),
            "an AssumeRole reached STS twice: {calls:?}"
        );
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn survives(choose: impl Fn(&Request) -> Option<Fault> + Send + Sync + 'static, kind: usize) {
    let bench = Bench::new();
    let proxy = FaultProxy::start(bench.moto.addr(), choose);
    let output = bench.issue(&proxy.endpoint(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).ends_with(&format!(
            "{GRANTS} issued, 0 skipped, 0 refused, 0 failed\n"
        )),
        "{}",
        stderr(&output)
    );
    assert!(
        proxy.counts()[kind] > 10,
        "faults were injected: {:?}",
        proxy.counts()
    );
    bench.assert_each_issued_once();
}

#[test]
fn throttling_is_retried_until_every_grant_is_issued_once() {
    survives(|r| (r.number % 4 == 0).then_some(Fault::Throttle), 0);
}

#[test]
fn server_errors_are_retried_until_every_grant_is_issued_once() {
    survives(|r| (r.number % 5 == 0).then_some(Fault::Unavailable), 1);
}

#[test]
fn slow_answers_only_slow_the_run() {
    survives(
        |r| (r.number % 2 == 0).then_some(Fault::Slow(Duration::from_millis(40))),
        2,
    );
}

#[test]
fn dropped_connections_are_retried_until_every_grant_is_issued_once() {
    survives(|r| (r.number % 6 == 0).then_some(Fault::Drop), 3);
}

#[test]
fn grants_that_keep_failing_are_reported_and_a_rerun_issues_exactly_those() {
    let bench = Bench::new();
    let unlucky = |r: &Request| r.action == "AssumeRole" && r.body.contains("user-1");
    let proxy = FaultProxy::start(bench.moto.addr(), move |r| {
        unlucky(r).then_some(Fault::Unavailable)
    });
    let first = bench.issue(&proxy.endpoint(), &[]);
    assert_eq!(first.status.code(), Some(1));
    // user-1, user-10 … user-19 and user-100 … user-119: 31 grants.
    let failed = 31;
    assert!(
        stderr(&first).ends_with(&format!(
            "{} issued, 0 skipped, 0 refused, {failed} failed\n",
            GRANTS - failed
        )),
        "{}",
        stderr(&first)
    );
    assert!(
        stderr(&first).contains(
            "failed   unity/dev/user-1: sts:AssumeRole failed: `ServiceUnavailable`: Try again"
        ),
        "{}",
        stderr(&first)
    );
    assert_eq!(bench.sealed_files().len(), GRANTS - failed);

    drop(proxy);
    bench.moto.clear_recording();
    let second = bench.issue(&bench.moto.endpoint(), &[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).ends_with(&format!(
            "{failed} issued, {} skipped, 0 refused, 0 failed\n",
            GRANTS - failed
        )),
        "{}",
        stderr(&second)
    );
    let retried = bench.assume_role_calls();
    assert_eq!(retried.len(), failed);
    assert!(
        retried.keys().all(|session| session.contains("user-1")),
        "{retried:?}"
    );
    assert_eq!(bench.sealed_files().len(), GRANTS);
}

#[test]
fn a_run_killed_midway_leaves_no_partial_file_and_a_rerun_completes() {
    let bench = Bench::new();
    let proxy = FaultProxy::start(bench.moto.addr(), |_| {
        Some(Fault::Slow(Duration::from_millis(25)))
    });
    let mut child = bench
        .command(&proxy.endpoint(), &[])
        .stderr(Stdio::null())
        .spawn()
        .expect("stsgrant starts");
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let sealed: Vec<PathBuf> = bench
        .sealed_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "age"))
        .collect();
    for file in &sealed {
        let text = fs::read_to_string(file).expect("readable");
        assert!(
            text.ends_with("-----END AGE ENCRYPTED FILE-----\n"),
            "{} is whole",
            file.display()
        );
    }
    let before = sealed.len();
    assert!(
        before < GRANTS,
        "the run was killed before the end ({before} files)"
    );

    let rerun = bench.issue(&bench.moto.endpoint(), &["--lease", "0"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    let files = bench.sealed_files();
    assert_eq!(files.len(), GRANTS, "{files:?}");
    for folder in ["out", "records"] {
        let leftovers: Vec<PathBuf> = walk(&bench.dir.path().join(folder))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert_eq!(
            leftovers,
            Vec::<PathBuf>::new(),
            "the re-run swept what the killed run left"
        );
    }

    let records = bench.records();
    let mut by_grant: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for r in &records {
        by_grant
            .entry(r["session_name"].as_str().expect("session").to_owned())
            .or_default()
            .push((
                r["attempt"].as_u64().expect("attempt"),
                r["status"].as_str().expect("status").to_owned(),
            ));
    }
    for (session, calls) in bench.assume_role_calls() {
        let attempts = &by_grant[&session];
        assert_eq!(
            attempts.iter().filter(|(_, s)| s == "issued").count(),
            1,
            "{session}: {attempts:?}"
        );
        assert!(
            calls <= attempts.len(),
            "{session} reached STS {calls} times in {attempts:?}"
        );
        if calls > 1 {
            assert!(
                attempts.iter().any(|(_, s)| s == "claimed"),
                "a second call is reported by the first claim: {attempts:?}"
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
