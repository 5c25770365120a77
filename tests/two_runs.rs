//! Two `stsgrant issue` runs at once against one local AWS endpoint: with a file record store
//! and with the shared SSM record store, each grant is issued exactly once between them.

mod support;

use support::world::{DEV_EXTERNAL_ID, TEST_EXTERNAL_ID, World, stderr, walk};

#[test]
fn two_runs_at_once_issue_each_grant_once() {
    let world = World::with_external_ids();
    world.add_user_grants(24);
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
    let mut first_writes = std::collections::BTreeMap::new();
    for call in &claims {
        first_writes
            .entry(call["Name"].as_str().expect("name"))
            .or_insert(call);
    }
    assert!(
        first_writes.values().all(|c| c["Overwrite"] == false),
        "every record is first written create-only: {first_writes:?}"
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
    let records = world.audit_records("ssm:/stsgrant/records");
    assert_eq!(
        records.iter().filter(|r| r["status"] == "issued").count(),
        3
    );
    for record in &records {
        let text = record.to_string();
        assert!(!text.contains(DEV_EXTERNAL_ID) && !text.contains(TEST_EXTERNAL_ID));
    }
}
