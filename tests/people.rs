//! The people's side end to end: a requester's `new`, then `validate`, `issue` against a local
//! AWS endpoint, the recipient's `open --write-profile`, and an AWS call with that profile.

mod support;

use std::fs;
use std::process::{Command, Output};

use support::moto::MotoServer;
use support::world::repository_root;

#[test]
fn new_validate_issue_open_and_call_aws_with_the_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = Command::new("cp")
        .arg("-r")
        .arg(repository_root().join("grants"))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(copy.success());
    let moto = MotoServer::start();
    moto.put_parameter(
        "/unity/unity/dev/cs/sts/role/external-id",
        "unity-dev-demo-external-id",
        true,
    );
    moto.put_parameter(
        "/unity/unity/test/cs/sts/role/external-id",
        "unity-test-demo-external-id",
        true,
    );
    let stsgrant = |args: &[&str]| -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
        moto.configure(&mut command);
        command
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("stsgrant runs")
    };
    let identity = dir.path().join("home/.config/stsgrant/identity.txt");
    let identity = identity.to_str().expect("UTF-8 path");

    let new = stsgrant(&[
        "new",
        "--project",
        "unity",
        "--venue",
        "test",
        "--name",
        "erin-read",
        "--requester-name",
        "Erin Example",
        "--email",
        "erin@example.org",
        "--github",
        "erin",
        "--new-identity",
        identity,
        "--access",
        "s3-read",
        "--reason",
        "Check the test venue's outputs",
    ]);
    assert_eq!(
        new.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    assert!(String::from_utf8_lossy(&new.stderr).contains("wrote `grants/unity/test/erin-read.yaml`; next:\n  git switch -c grant/unity-test-erin-read\n"));
    let again = stsgrant(&[
        "new",
        "--project",
        "unity",
        "--venue",
        "test",
        "--name",
        "erin-read",
        "--requester-name",
        "E",
        "--email",
        "erin@example.org",
        "--recipient",
        "age1696lrwjl3v22nzaqph2rvsqjll5jkv4r03mftnfurha5e9ze6v5srm3x9z",
        "--access",
        "s3-read",
        "--reason",
        "Check the test venue's outputs",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "error: `grants/unity/test/erin-read.yaml` exists already; pick another `--name`\n"
    );

    let validate = stsgrant(&["validate"]);
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
    let issue = stsgrant(&[
        "issue",
        "grants/unity/test/erin-read.yaml",
        "--records",
        "file:records",
        "--out",
        "out",
    ]);
    assert!(
        String::from_utf8_lossy(&issue.stderr)
            .ends_with("1 issued, 0 skipped, 0 refused, 0 failed\n"),
        "{}",
        String::from_utf8_lossy(&issue.stderr)
    );

    let credentials = dir.path().join("home/.aws/credentials");
    fs::create_dir_all(credentials.parent().expect("folder")).expect("folder");
    fs::write(
        &credentials,
        "# mine\n[default]\naws_access_key_id = AKIAKEEPME\n",
    )
    .expect("existing file");
    let open = {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
        moto.configure(&mut command);
        command
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .current_dir(dir.path())
            .args([
                "open",
                "out/unity/test/erin-read.age",
                "-i",
                identity,
                "--write-profile",
                "unity-test",
            ])
            .output()
            .expect("stsgrant runs")
    };
    assert_eq!(
        open.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&open.stderr)
    );
    let written = fs::read_to_string(&credentials).expect("credentials");
    assert!(
        written.starts_with("# mine\n[default]\naws_access_key_id = AKIAKEEPME\n"),
        "the rest of the file is kept: {written}"
    );

    let profile = profile_values(&written, "unity-test");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let arn = runtime.block_on(async {
        let credentials = aws_sdk_sts::config::Credentials::new(
            &profile["aws_access_key_id"],
            &profile["aws_secret_access_key"],
            Some(profile["aws_session_token"].clone()),
            None,
            "the unity-test profile",
        );
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .credentials_provider(credentials)
            .region(aws_config::Region::new("us-west-2"))
            .endpoint_url(moto.endpoint())
            .build();
        let identity = aws_sdk_sts::Client::from_conf(config)
            .get_caller_identity()
            .send()
            .await
            .expect("the profile works");
        identity.arn.unwrap_or_default()
    });
    assert_eq!(
        arn,
        "arn:aws:sts::123456789012:assumed-role/unity-unity-test-sts/erin-erin-read-".to_owned()
            + &today()
    );
}

/// The `key = value` pairs of one section of an AWS credentials file.
fn profile_values(text: &str, section: &str) -> std::collections::HashMap<String, String> {
    let header = format!("[{section}]");
    text.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn today() -> String {
    jiff::Timestamp::now().strftime("%Y%m%d").to_string()
}
