//! Keys for tests, made by the real `age-keygen` and `ssh-keygen`, so that tests also show the
//! crate reads what those tools write. A missing tool fails the test instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::Recipient;

/// Runs a command to completion, failing the test when it is missing or fails.
pub(crate) fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "`{program}` is needed by this test ({error}); install `age` and `openssh-client`"
            )
        });
    let mut input = child.stdin.take().expect("stdin was piped");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("write to the command's stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait for the command");
    assert!(
        output.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Makes an age identity file with `age-keygen`; returns its path and its recipient.
pub(crate) fn age_key(dir: &Path, name: &str) -> (PathBuf, Recipient) {
    let path = dir.join(name);
    let path_text = path.to_str().expect("temporary paths are UTF-8");
    run("age-keygen", &["-o", path_text], None);
    let public = run("age-keygen", &["-y", path_text], None).stdout;
    let public = String::from_utf8(public).expect("age-keygen prints text");
    (
        path,
        public.parse().expect("age-keygen prints a valid recipient"),
    )
}

/// Makes an OpenSSH key pair with `ssh-keygen`; returns the private key's path and the
/// recipient read from the `.pub` file.
pub(crate) fn ssh_key(dir: &Path, name: &str, kind: &str, passphrase: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let path_text = path.to_str().expect("temporary paths are UTF-8");
    let mut args = vec![
        "-q",
        "-t",
        kind,
        "-N",
        passphrase,
        "-C",
        "alice@test",
        "-f",
        path_text,
    ];
    if kind == "rsa" {
        args.extend(["-b", "2048"]);
    }
    run("ssh-keygen", &args, None);
    let public = std::fs::read_to_string(format!("{path_text}.pub")).expect("ssh-keygen wrote it");
    (path, public)
}

/// Encrypts with a passphrase, as `age -p` does, at a work factor low enough for tests.
pub(crate) fn passphrase_encrypt(plaintext: &[u8], passphrase: &str) -> Vec<u8> {
    use std::io::Write;
    let mut recipient = age::scrypt::Recipient::new(passphrase.to_owned().into());
    recipient.set_work_factor(10);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as _)).expect("one recipient");
    let mut sealed = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut sealed, age::armor::Format::AsciiArmor)
        .expect("in memory");
    let mut writer = encryptor.wrap_output(armor).expect("in memory");
    writer.write_all(plaintext).expect("in memory");
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .expect("in memory");
    sealed
}
