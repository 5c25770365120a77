//! No secret leaks: with every command run against a local AWS endpoint at the most verbose
//! logging, no secret key, session token or ExternalId appears in what was printed or in any
//! file but the sealed ones.

mod support;

use std::fs;

use support::sealed::{age_decrypt, example_identity};
use support::world::{DEV_EXTERNAL_ID, TEST_EXTERNAL_ID, World, walk};

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
        let output = world
            .command(&args)
            .env("RUST_LOG", "trace")
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
    for file in walk(world.root()) {
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
