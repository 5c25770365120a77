//! Revocation end to end against a local AWS endpoint: after `revoked: true` in a grant,
//! `stsgrant issue` denies the grant's live sessions on the venue role in an inline policy (read
//! back from the endpoint), adds each session once, and never issues the grant again.

mod support;

use std::fs;

use support::sealed::{age_decrypt, example_identity};
use support::world::{World, stderr};

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
    let plan = world.plan();
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
    let records = world.audit_records("file:records");
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
