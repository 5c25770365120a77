//! `stsgrant audit` after runs against a local AWS endpoint: every attempt, failed or issued,
//! with what CloudTrail shows for it (access key, assumed role id, commit).

mod support;

use support::sealed::{age_decrypt, example_identity};
use support::world::{DEV_EXTERNAL_ID, TEST_EXTERNAL_ID, World};

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
