//! Opening sealed credentials the way a recipient does: with the real `age` command and the
//! example identities in `examples/identities`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::world::repository_root;

/// Decrypts with the real `age` command.
pub fn age_decrypt_text(identity: &Path, file: &Path) -> String {
    let output = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .expect("the `age` command runs");
    assert!(
        output.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

pub fn age_decrypt(identity: &Path, file: &Path) -> serde_json::Value {
    serde_json::from_str(&age_decrypt_text(identity, file)).expect("the sealed content is JSON")
}

pub fn example_identity(name: &str) -> PathBuf {
    let path = repository_root().join("examples/identities").join(name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // ssh-keygen and age refuse private keys that others may read; git does not keep modes.
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    path
}
