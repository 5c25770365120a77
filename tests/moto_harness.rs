//! The moto harness itself works: the other end-to-end tests stand on it, and a fault here would
//! show up there as a confusing stsgrant failure.

mod support;

use std::collections::BTreeMap;

use support::moto::{ACCOUNT_ID, MotoServer};

#[test]
fn secure_string_parameter_reads_back() {
    let moto = MotoServer::start();

    moto.put_parameter(
        "/unity/unity/dev/cs/sts/role/external-id",
        "dev-external-id",
        true,
    );

    let value = moto.get_parameter("/unity/unity/dev/cs/sts/role/external-id");
    assert_eq!(value, "dev-external-id");
    let described = moto.ssm(
        "GetParameter",
        &serde_json::json!({ "Name": "/unity/unity/dev/cs/sts/role/external-id" }),
    );
    assert_eq!(described["Parameter"]["Type"], "SecureString");
}

#[test]
fn bucket_and_role_are_created() {
    let moto = MotoServer::start();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root") },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "sts:ExternalId": "x-1" } },
        }],
    });

    moto.create_bucket("unity-dev-data");
    let arn = moto.create_role("unity-unity-dev-sts", &trust.to_string());

    assert_eq!(
        arn,
        format!("arn:aws:iam::{ACCOUNT_ID}:role/unity-unity-dev-sts")
    );
    let listed = moto.query("s3", "us-west-2", "").text();
    assert!(listed.contains("<Name>unity-dev-data</Name>"), "{listed}");
}

#[test]
fn recorder_captures_ssm_and_sts_calls() {
    let moto = MotoServer::start();
    moto.put_parameter("/p", "v", false);
    moto.clear_recording();

    moto.get_parameter("/p");
    let body = support::http::form_encode(&[
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::123456789012:role/r"),
        ("RoleSessionName", "alice-20261203"),
        ("ExternalId", "a b+c/d=e"),
    ]);
    moto.query("sts", "us-west-2", &body);
    moto.stop_recording();
    moto.get_parameter("/p");

    let recording = moto.recording();
    assert_eq!(recording.len(), 2, "{recording:#?}");
    assert_eq!(recording[0].target(), Some("AmazonSSM.GetParameter"));
    assert_eq!(recording[0].service(), Some("ssm"));
    assert_eq!(recording[0].region(), Some("us-west-2"));
    assert_eq!(
        moto.ssm_calls("GetParameter"),
        vec![serde_json::json!({ "Name": "/p", "WithDecryption": true })]
    );
    assert_eq!(moto.ssm_calls("AmazonSSM.GetParameter").len(), 1);
    let assumed = moto.requests_for_action("AssumeRole");
    assert_eq!(assumed.len(), 1);
    assert_eq!(assumed[0]["RoleSessionName"], "alice-20261203");
    assert_eq!(assumed[0]["ExternalId"], "a b+c/d=e");

    moto.start_recording();
    moto.get_parameter("/p");
    assert_eq!(moto.ssm_calls("GetParameter").len(), 2);
}

#[test]
fn configured_command_sees_only_moto_settings() {
    let moto = MotoServer::start();

    let output = moto
        .configure(&mut std::process::Command::new("env"))
        .output()
        .expect("`env` is on every Unix PATH");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let seen: BTreeMap<String, String> = stdout
        .lines()
        .filter(|line| line.starts_with("AWS_") || line.to_lowercase().starts_with("no_proxy="))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let expected: BTreeMap<String, String> = moto.env().into_iter().collect();
    assert_eq!(seen, expected);
    assert_eq!(seen["AWS_ENDPOINT_URL"], moto.endpoint());
    assert!(!std::path::Path::new(&seen["AWS_CONFIG_FILE"]).exists());
}
