//! `stsgrant plan` and `stsgrant issue` end to end against a local AWS endpoint (moto's server
//! on loopback): what reaches STS, what lands on disk, what a re-run does, and that no secret
//! leaks anywhere but the sealed files.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::moto::MotoServer;

const TODAY: &str = "2026-12-03";
const DEV_EXTERNAL_ID: &str = "unity-dev-demo-external-id";
const TEST_EXTERNAL_ID: &str = "unity-test-demo-external-id";

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the example grants in a temporary folder, and a moto server.
struct World {
    dir: tempfile::TempDir,
    moto: MotoServer,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_tree(
            &repository_root().join("grants"),
            &dir.path().join("grants"),
        );
        let moto = MotoServer::start();
        World { dir, moto }
    }

    fn with_external_ids() -> World {
        let world = World::new();
        world.moto.put_parameter(
            "/unity/unity/dev/cs/sts/role/external-id",
            DEV_EXTERNAL_ID,
            true,
        );
        world.moto.put_parameter(
            "/unity/unity/test/cs/sts/role/external-id",
            TEST_EXTERNAL_ID,
            true,
        );
        world
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn stsgrant(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
        self.moto.configure(&mut command);
        command
            .current_dir(self.dir.path())
            .env("STSGRANT_TODAY", TODAY)
            .env_remove("RUST_LOG")
            .args(args);
        command.output().expect("stsgrant runs")
    }

    fn issue(&self, out: &str) -> Output {
        self.stsgrant(&[
            "issue",
            "--out",
            out,
            "--records",
            "file:records",
            "--commit",
            "0123abc",
        ])
    }

    /// Starts two `issue` runs at once with these extra arguments, each into its own output
    /// folder, and waits for both.
    fn issue_twice_at_once(&self, args: &[&str]) -> (Output, Output) {
        let spawn = |out: &str| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
            self.moto.configure(&mut command);
            command
                .current_dir(self.dir.path())
                .env("STSGRANT_TODAY", TODAY)
                .arg("issue")
                .args(args)
                .args(["--out", out])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("stsgrant starts")
        };
        let (a, b) = (spawn("out-a"), spawn("out-b"));
        (
            a.wait_with_output().expect("a ends"),
            b.wait_with_output().expect("b ends"),
        )
    }

    fn assume_role_calls(&self) -> Vec<BTreeMap<String, String>> {
        self.moto.requests_for_action("AssumeRole")
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("folder");
    for entry in fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copied");
        }
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Decrypts with the real `age` command.
fn age_decrypt_text(identity: &Path, file: &Path) -> String {
    let output = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .expect("the `age` command runs");
    assert!(
        output.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn age_decrypt(identity: &Path, file: &Path) -> serde_json::Value {
    serde_json::from_str(&age_decrypt_text(identity, file)).expect("the sealed content is JSON")
}

fn example_identity(name: &str) -> PathBuf {
    let path = repository_root().join("examples/identities").join(name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // ssh-keygen and age refuse private keys that others may read; git does not keep modes.
        let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o600));
    }
    path
}

#[test]
fn issue_sends_exactly_the_planned_call_and_seals_what_age_opens() {
    let world = World::with_external_ids();
    world.moto.clear_recording();
    world.moto.start_recording();
    let output = world.issue("out");
    world.moto.stop_recording();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).ends_with("3 issued, 0 skipped, 0 refused, 0 failed\n"),
        "{}",
        stderr(&output)
    );

    let calls = world.assume_role_calls();
    assert_eq!(calls.len(), 3);
    let alice = calls
        .iter()
        .find(|c| c["RoleSessionName"] == "alice-example-alice-upload-20261203")
        .expect("alice's call");
    assert_eq!(
        alice["RoleArn"],
        "arn:aws:iam::123456789012:role/unity-unity-dev-sts"
    );
    assert_eq!(alice["ExternalId"], DEV_EXTERNAL_ID);
    assert_eq!(alice["DurationSeconds"], "7200");
    assert_eq!(alice["SourceIdentity"], "alice-example");
    assert_eq!(alice["Tags.member.1.Key"], "stsgrant:requester");
    assert_eq!(alice["Tags.member.1.Value"], "alice@example.org");
    let policy: serde_json::Value = serde_json::from_str(&alice["Policy"]).expect("policy JSON");
    assert_eq!(
        policy["Statement"][1]["Resource"],
        "arn:aws:s3:::unity-dev-data/incoming/alice/*"
    );
    let carol = calls
        .iter()
        .find(|c| c["RoleSessionName"] == "carol-carol-read-20261203")
        .expect("carol's call");
    assert_eq!(carol["ExternalId"], TEST_EXTERNAL_ID);
    assert_eq!(
        carol.get("SourceIdentity"),
        None,
        "the test venue does not enable it"
    );

    let sealed = world.path("out/unity/dev/alice-upload.age");
    let text = fs::read_to_string(&sealed).expect("sealed file");
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            fs::metadata(&sealed)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let text = age_decrypt_text(&example_identity("alice.txt"), &sealed);
    let json: serde_json::Value = serde_json::from_str(&text).expect("the sealed content is JSON");
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix('"')?.split('"').next())
        .collect();
    assert_eq!(
        keys,
        [
            "Credentials",
            "AccessKeyId",
            "SecretAccessKey",
            "SessionToken",
            "Expiration",
            "AssumedRoleUser",
            "AssumedRoleId",
            "Arn",
            "PackedPolicySize"
        ],
        "the shape and key order of `aws sts assume-role` output"
    );
    assert!(
        text.starts_with("{\n    \"Credentials\": {\n        \"AccessKeyId\": "),
        "four-space indent like the AWS CLI"
    );
    assert_eq!(
        json["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::123456789012:assumed-role/unity-unity-dev-sts/alice-example-alice-upload-20261203"
    );
    assert!(
        json["Credentials"]["Expiration"]
            .as_str()
            .expect("string")
            .ends_with("+00:00")
    );

    let bob = age_decrypt(
        &example_identity("bob_ed25519"),
        &world.path("out/unity/dev/bob-images.age"),
    );
    assert_eq!(
        bob["AssumedRoleUser"]["AssumedRoleId"]
            .as_str()
            .map(|s| s.ends_with(":bob-bob-images-20261203-r2")),
        Some(true)
    );

    let identities =
        stsgrant::seal::read_identities(&example_identity("alice.txt"), None).expect("identity");
    let opened = stsgrant::seal::open(
        &fs::read(world.path("out/unity/test/carol-read.age")).expect("sealed"),
        &identities,
    )
    .expect("the crate opens it too");
    let carol_json: serde_json::Value = serde_json::from_slice(&opened).expect("JSON");
    assert_eq!(
        carol_json["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::123456789012:assumed-role/unity-unity-test-sts/carol-carol-read-20261203"
    );

    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(world.path("out/manifest.json")).expect("manifest"))
            .expect("JSON");
    assert_eq!(manifest["commit"], "0123abc");
    assert_eq!(manifest["files"].as_array().map(Vec::len), Some(3));
}

#[test]
fn what_age_decrypts_works_as_an_aws_credential() {
    let world = World::with_external_ids();
    assert_eq!(world.issue("out").status.code(), Some(0));
    let json = age_decrypt(
        &example_identity("alice.txt"),
        &world.path("out/unity/dev/alice-upload.age"),
    );
    let field = |name: &str| {
        json["Credentials"][name]
            .as_str()
            .expect("a credential field")
            .to_owned()
    };
    let credentials = aws_sdk_sts::config::Credentials::new(
        field("AccessKeyId"),
        field("SecretAccessKey"),
        Some(field("SessionToken")),
        None,
        "decrypted with age",
    );
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .credentials_provider(credentials)
        .region(aws_config::Region::new("us-west-2"))
        .endpoint_url(world.moto.endpoint())
        .build();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let caller = runtime
        .block_on(
            aws_sdk_sts::Client::from_conf(config)
                .get_caller_identity()
                .send(),
        )
        .expect("the decrypted credential is accepted");
    assert_eq!(
        caller.arn.as_deref(),
        Some(
            "arn:aws:sts::123456789012:assumed-role/unity-unity-dev-sts/alice-example-alice-upload-20261203"
        )
    );
}

#[test]
fn a_rerun_issues_nothing_twice() {
    let world = World::with_external_ids();
    assert_eq!(world.issue("out").status.code(), Some(0));
    world.moto.clear_recording();
    world.moto.start_recording();
    let again = world.issue("out-again");
    world.moto.stop_recording();
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stderr(&again).ends_with("0 issued, 3 skipped, 0 refused, 0 failed\n"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("skipped  unity/dev/alice-upload: already issued as session `alice-example-alice-upload-20261203`"));
    assert_eq!(world.assume_role_calls().len(), 0);
    assert!(!world.path("out-again").exists());

    let plan = world.stsgrant(&["plan", "--records", "file:records", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["grants"][0]["action"], "already-issued");
}

#[test]
fn a_bumped_revision_is_issued_again() {
    let world = World::with_external_ids();
    assert_eq!(world.issue("out").status.code(), Some(0));
    let path = world.path("grants/unity/test/carol-read.yaml");
    let text = fs::read_to_string(&path).expect("grant");
    fs::write(&path, format!("{text}revision: 2\n")).expect("bumped");
    world.moto.clear_recording();
    world.moto.start_recording();
    let output = world.issue("out");
    world.moto.stop_recording();
    assert!(
        stderr(&output).ends_with("1 issued, 2 skipped, 0 refused, 0 failed\n"),
        "{}",
        stderr(&output)
    );
    let calls = world.assume_role_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["RoleSessionName"], "carol-carol-read-20261203-r2");
}

#[test]
fn an_external_id_mismatch_is_refused_before_any_assume_role() {
    let world = World::new();
    world.moto.put_parameter(
        "/unity/unity/dev/cs/sts/role/external-id",
        DEV_EXTERNAL_ID,
        true,
    );
    world.moto.put_parameter(
        "/unity/unity/test/cs/sts/role/external-id",
        "some-other-venues-id",
        true,
    );
    world.moto.clear_recording();
    world.moto.start_recording();
    let output = world.issue("out");
    world.moto.stop_recording();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(
        "refused  unity/test/carol-read: the ExternalId in `/unity/unity/test/cs/sts/role/external-id` does not match the grant's `external_id`; nothing was issued"
    ), "{}", stderr(&output));
    assert!(!stderr(&output).contains("some-other-venues-id"));
    let roles: Vec<String> = world
        .assume_role_calls()
        .iter()
        .map(|c| c["RoleArn"].clone())
        .collect();
    assert_eq!(roles.len(), 2);
    assert!(roles.iter().all(|r| r.ends_with("unity-unity-dev-sts")));
    assert!(!world.path("out/unity/test/carol-read.age").exists());
}

#[test]
fn a_failed_grant_does_not_stop_the_others_and_a_rerun_issues_what_is_missing() {
    let world = World::new();
    world.moto.put_parameter(
        "/unity/unity/test/cs/sts/role/external-id",
        TEST_EXTERNAL_ID,
        true,
    );
    let first = world.issue("out");
    assert_eq!(first.status.code(), Some(1));
    assert!(
        stderr(&first).contains(
            "failed   unity/dev/alice-upload: ssm:GetParameter failed: `ParameterNotFound`"
        ),
        "{}",
        stderr(&first)
    );
    assert!(
        stderr(&first).ends_with("1 issued, 0 skipped, 0 refused, 2 failed\n"),
        "{}",
        stderr(&first)
    );
    let leftovers: Vec<_> = fs::read_dir(world.path("out/unity/test"))
        .expect("folder")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, ["carol-read.age"]);
    assert!(!world.path("out/unity/dev").exists());

    world.moto.put_parameter(
        "/unity/unity/dev/cs/sts/role/external-id",
        DEV_EXTERNAL_ID,
        true,
    );
    world.moto.clear_recording();
    world.moto.start_recording();
    let second = world.issue("out");
    world.moto.stop_recording();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).ends_with("2 issued, 1 skipped, 0 refused, 0 failed\n"),
        "{}",
        stderr(&second)
    );
    assert_eq!(world.assume_role_calls().len(), 2);
}

#[test]
fn an_unwritable_output_folder_fails_cleanly_and_is_retried() {
    let world = World::with_external_ids();
    fs::write(world.path("out"), b"not a folder").expect("a file where the folder should be");
    let first = world.issue("out");
    assert_eq!(first.status.code(), Some(1));
    assert!(
        stderr(&first).contains(
            "failed   unity/dev/alice-upload: cannot write `out/unity/dev/alice-upload.age`"
        ),
        "{}",
        stderr(&first)
    );
    fs::remove_file(world.path("out")).expect("removed");
    let second = world.issue("out");
    assert!(
        stderr(&second).ends_with("3 issued, 0 skipped, 0 refused, 0 failed\n"),
        "{}",
        stderr(&second)
    );
}

#[test]
fn two_runs_at_once_issue_each_grant_once() {
    let world = World::with_external_ids();
    let template = fs::read_to_string(repository_root().join("tests/fixtures/valid/minimal.yaml"))
        .expect("fixture");
    for i in 0..24 {
        let grant = template
            .replace("Dana Example", &format!("User {i}"))
            .replace("dana@", &format!("user{i}@"));
        fs::write(
            world.path(&format!("grants/unity/dev/user-{i}.yaml")),
            grant,
        )
        .expect("grant");
    }
    world.moto.clear_recording();
    world.moto.start_recording();
    let (a, b) = world.issue_twice_at_once(&["--jobs", "4", "--records", "file:records"]);
    world.moto.stop_recording();
    assert_eq!(
        (a.status.code(), b.status.code()),
        (Some(0), Some(0)),
        "{}\n{}",
        stderr(&a),
        stderr(&b)
    );

    let sessions: Vec<String> = world
        .assume_role_calls()
        .iter()
        .map(|c| c["RoleSessionName"].clone())
        .collect();
    let mut unique = sessions.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        sessions.len(),
        27,
        "each of the 27 grants is assumed once: {sessions:?}"
    );
    assert_eq!(unique.len(), 27);
    let count = |out: &str| {
        walk(&world.path(out))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "age"))
            .count()
    };
    assert_eq!(count("out-a") + count("out-b"), 27);
}

#[test]
fn the_shared_ssm_record_store_lets_two_runs_issue_each_grant_once() {
    let world = World::with_external_ids();
    world.moto.clear_recording();
    world.moto.start_recording();
    let (a, b) = world.issue_twice_at_once(&["--records", "ssm:/stsgrant/records"]);
    world.moto.stop_recording();
    assert_eq!(
        (a.status.code(), b.status.code()),
        (Some(0), Some(0)),
        "{}\n{}",
        stderr(&a),
        stderr(&b)
    );
    let mut sessions: Vec<String> = world
        .assume_role_calls()
        .iter()
        .map(|c| c["RoleSessionName"].clone())
        .collect();
    sessions.sort();
    assert_eq!(
        sessions,
        [
            "alice-example-alice-upload-20261203",
            "bob-bob-images-20261203-r2",
            "carol-carol-read-20261203"
        ]
    );
    let claims = world.moto.ssm_calls("PutParameter");
    assert!(claims.iter().all(|c| {
        c["Name"]
            .as_str()
            .is_some_and(|n| n.starts_with("/stsgrant/records/unity/"))
    }));
    assert!(
        claims.iter().any(|c| c["Overwrite"] == false),
        "claims are create-only: {claims:?}"
    );

    let again = world.stsgrant(&[
        "issue",
        "--records",
        "ssm:/stsgrant/records",
        "--out",
        "out-c",
    ]);
    assert!(
        stderr(&again).ends_with("0 issued, 3 skipped, 0 refused, 0 failed\n"),
        "{}",
        stderr(&again)
    );
    let audit = world.stsgrant(&[
        "audit",
        "--records",
        "ssm:/stsgrant/records",
        "--format",
        "json",
    ]);
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&audit.stdout).expect("records JSON");
    assert_eq!(
        records.iter().filter(|r| r["status"] == "issued").count(),
        3
    );
    for record in &records {
        let text = record.to_string();
        assert!(!text.contains(DEV_EXTERNAL_ID) && !text.contains(TEST_EXTERNAL_ID));
    }
}

/// The `stsgrant-revocations` inline policy of a role, read back from the endpoint.
fn revocation_policy(world: &World, role: &str) -> serde_json::Value {
    let body = support::http::form_encode(&[
        ("Action", "GetRolePolicy"),
        ("Version", "2010-05-08"),
        ("RoleName", role),
        ("PolicyName", "stsgrant-revocations"),
    ]);
    let text = world.moto.query("iam", "us-east-1", &body).text();
    let document = text
        .split_once("<PolicyDocument>")
        .and_then(|(_, rest)| rest.split_once("</PolicyDocument>"))
        .map(|(document, _)| document.replace("&quot;", "\"").replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no policy document in {text}"));
    serde_json::from_str(&percent_decode(&document)).expect("the policy is JSON")
}

/// IAM hands policy documents back URL-encoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn revoking_a_grant_denies_its_live_session_on_the_role_once() {
    let world = World::with_external_ids();
    world.moto.create_role(
        "unity-unity-dev-sts",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
    );
    assert_eq!(world.issue("out").status.code(), Some(0));
    let alice = age_decrypt(
        &example_identity("alice.txt"),
        &world.path("out/unity/dev/alice-upload.age"),
    );

    let path = world.path("grants/unity/dev/alice-upload.yaml");
    fs::write(
        &path,
        fs::read_to_string(&path).expect("grant") + "revoked: true\n",
    )
    .expect("revoked");
    let plan = world.stsgrant(&["plan", "--records", "file:records", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["grants"][0]["action"], "revoke");
    assert_eq!(
        plan["grants"][0]["sessions"][0],
        "alice-example-alice-upload-20261203"
    );

    world.moto.clear_recording();
    world.moto.start_recording();
    let revoke = world.issue("out");
    world.moto.stop_recording();
    assert_eq!(revoke.status.code(), Some(0), "{}", stderr(&revoke));
    assert!(stderr(&revoke).contains(
        "revoked  unity/dev/alice-upload: denied alice-example-alice-upload-20261203 on the role"
    ), "{}", stderr(&revoke));
    assert!(
        stderr(&revoke).ends_with("0 issued, 2 skipped, 0 refused, 0 failed, 1 revoked\n"),
        "{}",
        stderr(&revoke)
    );
    assert_eq!(
        world.assume_role_calls().len(),
        0,
        "a revoked grant is never issued again"
    );

    let policy = revocation_policy(&world, "unity-unity-dev-sts");
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Deny");
    assert_eq!(
        statements[0]["Condition"]["StringEquals"]["aws:userid"],
        alice["AssumedRoleUser"]["AssumedRoleId"]
    );

    let again = world.issue("out");
    assert!(
        stderr(&again).contains(
            "skipped  unity/dev/alice-upload: revoked; nothing issued for it is still valid"
        ),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        revocation_policy(&world, "unity-unity-dev-sts")["Statement"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let audit = world.stsgrant(&["audit", "--records", "file:records", "--format", "json"]);
    let records: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).expect("records");
    let alice_record = records
        .iter()
        .find(|r| r["grant"] == "unity/dev/alice-upload")
        .expect("alice's record");
    assert!(alice_record["revoked_at"].is_string(), "{alice_record}");

    let bob = world.path("grants/unity/dev/bob-images.yaml");
    fs::write(
        &bob,
        fs::read_to_string(&bob).expect("grant") + "revoked: true\n",
    )
    .expect("revoked");
    let second = world.issue("out");
    assert!(
        stderr(&second).ends_with("0 issued, 2 skipped, 0 refused, 0 failed, 1 revoked\n"),
        "{}",
        stderr(&second)
    );
    let statements = revocation_policy(&world, "unity-unity-dev-sts")["Statement"].clone();
    assert_eq!(
        statements.as_array().map(Vec::len),
        Some(2),
        "the role's policy keeps the first revocation: {statements}"
    );
}

#[test]
fn plan_shows_role_chaining_before_any_call() {
    let world = World::with_external_ids();
    assert_eq!(world.issue("out").status.code(), Some(0));
    let alice = age_decrypt(
        &example_identity("alice.txt"),
        &world.path("out/unity/dev/alice-upload.age"),
    );
    let creds = &alice["Credentials"];
    let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
    world.moto.configure(&mut command);
    let output = command
        .current_dir(world.dir.path())
        .env("STSGRANT_TODAY", TODAY)
        .env(
            "AWS_ACCESS_KEY_ID",
            creds["AccessKeyId"].as_str().expect("key id"),
        )
        .env(
            "AWS_SECRET_ACCESS_KEY",
            creds["SecretAccessKey"].as_str().expect("secret"),
        )
        .env(
            "AWS_SESSION_TOKEN",
            creds["SessionToken"].as_str().expect("token"),
        )
        .args([
            "plan",
            "--records",
            "file:other-records",
            "--format",
            "json",
        ])
        .output()
        .expect("stsgrant runs");
    assert_eq!(output.status.code(), Some(1));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("plan JSON");
    let alice_plan = &plan["grants"][0];
    assert_eq!(alice_plan["grant"], "unity/dev/alice-upload");
    assert_eq!(alice_plan["action"], "not-issuable");
    assert!(alice_plan["reason"].as_str().expect("reason").contains(
        "STS caps a role assumed from a role at 1h (role chaining), but the grant asks for 2h"
    ));
    assert_eq!(
        plan["grants"][2]["action"], "issue",
        "carol asks for 1h, which role chaining allows"
    );
}

#[test]
fn no_secret_appears_anywhere_but_the_sealed_files() {
    let world = World::with_external_ids();
    let mut everything_printed = String::new();
    for args in [
        vec!["-vv", "validate"],
        vec!["-vv", "plan", "--records", "file:records"],
        vec!["-vv", "issue", "--records", "file:records", "--out", "out"],
        vec![
            "-vv",
            "plan",
            "--records",
            "file:records",
            "--format",
            "json",
        ],
        vec!["-vv", "issue", "--records", "file:records", "--out", "out"],
        vec![
            "-vv",
            "audit",
            "--records",
            "file:records",
            "--format",
            "json",
        ],
        vec!["-vv", "audit", "--records", "file:records"],
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
        world.moto.configure(&mut command);
        let output = command
            .current_dir(world.dir.path())
            .env("STSGRANT_TODAY", TODAY)
            .env("RUST_LOG", "trace")
            .args(&args)
            .output()
            .expect("stsgrant runs");
        everything_printed.push_str(&String::from_utf8_lossy(&output.stdout));
        everything_printed.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    assert!(
        everything_printed.contains("TRACE") || everything_printed.contains("DEBUG"),
        "verbose logging was on"
    );

    let mut secrets = vec![DEV_EXTERNAL_ID.to_owned(), TEST_EXTERNAL_ID.to_owned()];
    for (file, identity) in [
        ("out/unity/dev/alice-upload.age", "alice.txt"),
        ("out/unity/dev/bob-images.age", "bob_ed25519"),
        ("out/unity/test/carol-read.age", "alice.txt"),
    ] {
        let json = age_decrypt(&example_identity(identity), &world.path(file));
        for field in ["SecretAccessKey", "SessionToken"] {
            secrets.push(
                json["Credentials"][field]
                    .as_str()
                    .expect("secret")
                    .to_owned(),
            );
        }
    }
    for secret in &secrets {
        assert!(
            !everything_printed.contains(secret.as_str()),
            "a secret was printed"
        );
    }
    for file in walk(world.dir.path()) {
        if file.extension().is_some_and(|e| e == "age") {
            continue;
        }
        let bytes = fs::read(&file).expect("readable");
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is in {}",
                file.display()
            );
        }
    }
}

#[test]
fn audit_lists_every_attempt_with_what_cloudtrail_shows() {
    let world = World::new();
    world.moto.put_parameter(
        "/unity/unity/test/cs/sts/role/external-id",
        TEST_EXTERNAL_ID,
        true,
    );
    assert_eq!(world.issue("out").status.code(), Some(1));
    world.moto.put_parameter(
        "/unity/unity/dev/cs/sts/role/external-id",
        DEV_EXTERNAL_ID,
        true,
    );
    assert_eq!(world.issue("out").status.code(), Some(0));

    let output = world.stsgrant(&["audit", "--records", "file:records", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let summary: Vec<(String, u64, String)> = records
        .iter()
        .map(|r| {
            let grant = r["grant"].as_str().expect("grant").to_owned();
            (
                grant,
                r["attempt"].as_u64().expect("attempt"),
                r["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        summary,
        [
            ("unity/dev/alice-upload".to_owned(), 1, "failed".to_owned()),
            ("unity/dev/alice-upload".to_owned(), 2, "issued".to_owned()),
            ("unity/dev/bob-images".to_owned(), 1, "failed".to_owned()),
            ("unity/dev/bob-images".to_owned(), 2, "issued".to_owned()),
            ("unity/test/carol-read".to_owned(), 1, "issued".to_owned()),
        ]
    );
    let alice = age_decrypt(
        &example_identity("alice.txt"),
        &world.path("out/unity/dev/alice-upload.age"),
    );
    let issued = records
        .iter()
        .find(|r| r["grant"] == "unity/dev/alice-upload" && r["status"] == "issued")
        .expect("alice's issued record");
    assert_eq!(issued["access_key_id"], alice["Credentials"]["AccessKeyId"]);
    assert_eq!(
        issued["assumed_role_id"],
        alice["AssumedRoleUser"]["AssumedRoleId"]
    );
    assert_eq!(issued["commit"], "0123abc");
    let failed = records
        .iter()
        .find(|r| r["status"] == "failed")
        .expect("a failed record");
    assert!(
        failed["failure"]
            .as_str()
            .expect("why")
            .contains("ParameterNotFound")
    );

    let table = world.stsgrant(&["audit", "--records", "file:records"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert_eq!(
        table.lines().count(),
        6,
        "a header and one line per attempt: {table}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
