//! `stsgrant issue` on many grants while the AWS endpoint misbehaves: throttling, server
//! errors, slow answers, dropped connections, and a run killed midway. Every grant must end
//! issued exactly once or failed with a reason, and a re-run must issue exactly what is missing.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::faults::{Fault, FaultProxy, Request};
use support::world::{DEV_EXTERNAL_ID, World, stderr, walk};

const GRANTS: usize = 120;

/// The example catalog with `GRANTS` grants in `unity/dev`, the venue's ExternalId in SSM, and
/// moto's recording started after that setup.
fn bench() -> World {
    let bench = World::catalog_only();
    bench.add_user_grants(GRANTS);
    bench.moto.put_parameter(
        "/unity/unity/dev/cs/sts/role/external-id",
        DEV_EXTERNAL_ID,
        true,
    );
    bench.moto.clear_recording();
    bench.moto.start_recording();
    bench
}

/// `stsgrant issue` on every grant, eight at a time, talking to AWS through `endpoint`.
fn issue_command(bench: &World, endpoint: &str, extra: &[&str]) -> Command {
    let mut command = bench.command_through(
        endpoint,
        &[
            "issue",
            "--jobs",
            "8",
            "--records",
            "file:records",
            "--out",
            "out",
            "--commit",
            "c0ffee",
        ],
    );
    command.args(extra);
    command
}

fn issue(bench: &World, endpoint: &str, extra: &[&str]) -> Output {
    issue_command(bench, endpoint, extra)
        .output()
        .expect("stsgrant runs")
}

/// How many `sts:AssumeRole` calls reached the endpoint, by session name.
fn calls_by_session(bench: &World) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for call in bench.assume_role_calls() {
        *calls.entry(call["RoleSessionName"].clone()).or_default() += 1;
    }
    calls
}

fn sealed_files(bench: &World) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(bench.path("out/unity/dev"))
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// The whole sealed files, without the temporary files of writes under way.
fn sealed_age_files(bench: &World) -> Vec<PathBuf> {
    sealed_files(bench)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "age"))
        .collect()
}

/// Each grant issued exactly once: one sealed file, one issued record, one call to STS.
fn assert_each_issued_once(bench: &World) {
    let files = sealed_files(bench);
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
    let issued = bench
        .audit_records("file:records")
        .iter()
        .filter(|r| r["status"] == "issued")
        .count();
    assert_eq!(issued, GRANTS);
    let calls = calls_by_session(bench);
    assert_eq!(calls.len(), GRANTS);
    assert!(
        calls.values().all(|&n| n == 1),
        "an AssumeRole reached STS twice: {calls:?}"
    );
}

fn survives(choose: impl Fn(&Request) -> Option<Fault> + Send + Sync + 'static, kind: usize) {
    let bench = bench();
    let proxy = FaultProxy::start(bench.moto.addr(), choose);
    let output = issue(&bench, &proxy.endpoint(), &[]);
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
    assert_each_issued_once(&bench);
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
    let bench = bench();
    let unlucky = |r: &Request| r.action == "AssumeRole" && r.body.contains("user-1");
    let proxy = FaultProxy::start(bench.moto.addr(), move |r| {
        unlucky(r).then_some(Fault::Unavailable)
    });
    let first = issue(&bench, &proxy.endpoint(), &[]);
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
    assert_eq!(sealed_files(&bench).len(), GRANTS - failed);

    drop(proxy);
    bench.moto.clear_recording();
    let second = issue(&bench, &bench.moto.endpoint(), &[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).ends_with(&format!(
            "{failed} issued, {} skipped, 0 refused, 0 failed\n",
            GRANTS - failed
        )),
        "{}",
        stderr(&second)
    );
    let retried = calls_by_session(&bench);
    assert_eq!(retried.len(), failed);
    assert!(
        retried.keys().all(|session| session.contains("user-1")),
        "{retried:?}"
    );
    assert_eq!(sealed_files(&bench).len(), GRANTS);
}

#[test]
fn a_run_killed_midway_leaves_no_partial_file_and_a_rerun_completes() {
    let bench = bench();
    let proxy = FaultProxy::start(bench.moto.addr(), |_| {
        Some(Fault::Slow(Duration::from_millis(25)))
    });
    let mut child = issue_command(&bench, &proxy.endpoint(), &[])
        .stderr(Stdio::null())
        .spawn()
        .expect("stsgrant starts");
    // Killed at a point that differs from run to run: once some grants are sealed and while
    // most are still to come, however fast this machine is.
    let kill_after = 5 + SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .subsec_nanos() as usize
        % 50;
    let deadline = Instant::now() + Duration::from_secs(60);
    while sealed_age_files(&bench).len() < kill_after {
        let exited = child.try_wait().expect("poll");
        assert!(
            exited.is_none(),
            "the run ended before {kill_after} grants were sealed"
        );
        assert!(
            Instant::now() < deadline,
            "{kill_after} grants not sealed in 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let sealed = sealed_age_files(&bench);
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
        "the run was killed before the end ({before} files, killed after {kill_after})"
    );

    let rerun = issue(&bench, &bench.moto.endpoint(), &["--lease", "0"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    let files = sealed_files(&bench);
    assert_eq!(files.len(), GRANTS, "{files:?}");
    for folder in ["out", "records"] {
        let leftovers: Vec<PathBuf> = walk(&bench.path(folder))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert_eq!(
            leftovers,
            Vec::<PathBuf>::new(),
            "the re-run swept what the killed run left"
        );
    }

    let records = bench.audit_records("file:records");
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
    for (session, calls) in calls_by_session(&bench) {
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
