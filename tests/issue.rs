//! `stsgrant plan` and `stsgrant issue` end to end against a local AWS endpoint (moto's server
//! on loopback): what reaches STS, what lands on disk and what age opens, what a re-run or a
//! bumped revision does, ExternalId checks, failures and their retry, and role chaining caught
//! by the plan.

mod support;

use std::fs;

use support::sealed::{age_decrypt, age_decrypt_text, example_identity};
use support::world::{DEV_EXTERNAL_ID, TEST_EXTERNAL_ID, World, stderr};

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

    let plan = world.plan();
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
fn plan_shows_role_chaining_before_any_call() {
    let world = World::with_external_ids();
    assert_eq!(world.issue("out").status.code(), Some(0));
    let alice = age_decrypt(
        &example_identity("alice.txt"),
        &world.path("out/unity/dev/alice-upload.age"),
    );
    let creds = &alice["Credentials"];
    let output = world
        .command(&[
            "plan",
            "--records",
            "file:other-records",
            "--format",
            "json",
        ])
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
