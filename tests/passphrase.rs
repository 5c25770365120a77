//! `stsgrant open` with a passphrase-protected SSH key, at a real pseudo-terminal: the
//! passphrase typed in answer to the prompt never shows, and the terminal echoes again after.

use std::path::Path;
use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};

const PASSPHRASE: &str = "correct-horse-canary-5519";

/// A key protected by [`PASSPHRASE`] and a credential sealed to it with the `age` command.
fn sealed_to_protected_key(dir: &Path) -> String {
    let key = dir.join("id_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-C",
            "recipient",
            "-N",
            PASSPHRASE,
            "-f",
        ])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(keygen.success());

    let expiration = Timestamp::now() + SignedDuration::from_hours(1);
    let credential = serde_json::json!({
        "Credentials": {
            "AccessKeyId": "ASIATERMINALTEST0001",
            "SecretAccessKey": "terminal-test-secret-access-key",
            "SessionToken": "terminal-test-session-token",
            "Expiration": expiration.to_string(),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": "AROATERMINALTEST:recipient",
            "Arn": "arn:aws:sts::123456789012:assumed-role/unity-unity-dev-sts/recipient",
        },
    });
    std::fs::write(dir.join("credential.json"), credential.to_string()).expect("write");
    let seal = Command::new("age")
        .arg("-R")
        .arg(key.with_extension("pub"))
        .arg("-o")
        .arg(dir.join("credential.age"))
        .arg(dir.join("credential.json"))
        .status()
        .expect("age runs");
    assert!(seal.success());
    key.to_str().expect("UTF-8 path").to_owned()
}

/// Runs `stsgrant open` on a new terminal and types `answer` at the passphrase prompt.
fn open_at_terminal(dir: &Path, key: &str, answer: &str) -> Output {
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/on_terminal.py");
    Command::new("python3")
        .arg(driver)
        .args([
            "passphrase for",
            answer,
            env!("CARGO_BIN_EXE_stsgrant"),
            "open",
        ])
        .arg(dir.join("credential.age"))
        .args(["--identity", key, "--format", "env"])
        .output()
        .expect("python3 runs")
}

#[test]
fn the_passphrase_typed_at_the_prompt_does_not_show() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = sealed_to_protected_key(dir.path());

    let output = open_at_terminal(dir.path(), &key, PASSPHRASE);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains(&format!("passphrase for `{key}`: ")),
        "{shown}"
    );
    assert!(
        shown.contains("AWS_ACCESS_KEY_ID='ASIATERMINALTEST0001'"),
        "{shown}"
    );
    assert!(!shown.contains(PASSPHRASE), "{shown}");
    assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), "echo: on");
}

#[test]
fn a_wrong_passphrase_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = sealed_to_protected_key(dir.path());

    let output = open_at_terminal(dir.path(), &key, "wrong-passphrase-canary");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("cannot be decrypted with the passphrase given"),
        "{shown}"
    );
    assert!(!shown.contains("wrong-passphrase-canary"), "{shown}");
    assert!(!shown.contains("AWS_ACCESS_KEY_ID"), "{shown}");
    assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), "echo: on");
}
