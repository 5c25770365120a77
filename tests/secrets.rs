//! No secret leaks: with every command run against a local AWS endpoint at the most verbose
//! logging, no secret key, session token or ExternalId appears in what was printed or in any
//! file but the sealed ones. `open` prints the credential on stdout by design, so only its
//! stderr counts, and the profile it writes on request lives outside the checked folder.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use support::sealed::{age_decrypt, example_identity};
use support::world::{DEV_EXTERNAL_ID, TEST_EXTERNAL_ID, World, stderr, walk};

/// `stsgrant` with these arguments, with tracing on and `home` as the home folder.
fn run_verbose(world: &World, args: &[&str], home: &Path) -> Output {
    world
        .command(args)
        .env("RUST_LOG", "trace")
        .env("HOME", home)
        .output()
        .expect("stsgrant runs")
}

#[test]
fn no_secret_appears_anywhere_but_the_sealed_files() {
    let world = World::with_external_ids();
    world.moto.create_role(
        "unity-unity-dev-sts",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
    );
    // Outside the folder checked below: `open --write-profile` writes the credential there.
    let home = tempfile::tempdir().expect("temp dir");
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
        let output = run_verbose(&world, &args, home.path());
        everything_printed.push_str(&String::from_utf8_lossy(&output.stdout));
        everything_printed.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    assert!(
        everything_printed.contains("TRACE") || everything_printed.contains("DEBUG"),
        "verbose logging was on"
    );

    // The recipients' side, then the upkeep commands and a revocation, on the same folder.
    for (file, identity) in [
        ("out/unity/dev/alice-upload.age", "alice.txt"),
        ("out/unity/dev/bob-images.age", "bob_ed25519"),
    ] {
        let identity = example_identity(identity);
        let identity = identity.to_str().expect("UTF-8 path");
        for format in [
            &["--format", "json"][..],
            &["--format", "env"],
            &["--format", "credential-process"],
            &["--write-profile", "canary"],
        ] {
            let mut args = vec!["-vv", "open", file, "--identity", identity];
            args.extend_from_slice(format);
            let output = run_verbose(&world, &args, home.path());
            assert!(output.status.success(), "{}", stderr(&output));
            everything_printed.push_str(&String::from_utf8_lossy(&output.stderr));
        }
    }
    let revoked = world.path("grants/unity/dev/alice-upload.yaml");
    let grant = fs::read_to_string(&revoked).expect("grant");
    fs::write(&revoked, format!("{grant}revoked: true\n")).expect("revoked");
    for args in [
        vec![
            "-vv",
            "new",
            "--project",
            "unity",
            "--venue",
            "dev",
            "--name",
            "erin-canary",
            "--requester-name",
            "Erin Example",
            "--email",
            "erin@example.org",
            "--new-identity",
            "erin-identity.txt",
            "--access",
            "s3-read",
            "--reason",
            "Look at the canary",
        ],
        vec!["-vv", "codeowners"],
        vec!["-vv", "prune"],
        vec!["-vv", "schema"],
        vec!["-vv", "issue", "--records", "file:records", "--out", "out"],
        vec!["-vv", "audit", "--records", "file:records"],
    ] {
        let output = run_verbose(&world, &args, home.path());
        everything_printed.push_str(&String::from_utf8_lossy(&output.stdout));
        everything_printed.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    assert!(
        everything_printed.contains("erin-canary"),
        "`new` ran and wrote its grant"
    );
    assert!(
        everything_printed.contains("revoked  unity/dev/alice-upload: denied"),
        "the revocation ran"
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
