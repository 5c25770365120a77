//! What `stsgrant open` gives the recipient, once the sealed output is decrypted.
//!
//! Recipients use a credential from a shell (`export` lines to evaluate), from an AWS CLI
//! profile with `credential_process`, or from a profile in `~/.aws/credentials`. These
//! functions only render or write; printing, and warning when little time is left, belong to
//! the command line. Rendered texts hold secrets, so they come back in zeroizing buffers.

mod ini;
mod profile;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::credential::Credential;

pub use profile::{ProfileError, write_profile};

/// When less time than this is left, the command line warns that the credential expires soon.
pub const EXPIRY_WARNING: SignedDuration = SignedDuration::from_mins(15);

/// A credential that can no longer be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("credential expired at `{at}`")]
pub struct Expired {
    /// When it expired.
    pub at: Timestamp,
}

impl Expired {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some("an expired credential cannot be renewed; ask for a new grant")
    }
}

/// How long the credential still works at `now`; refused once it has expired.
pub fn time_left(credential: &Credential, now: Timestamp) -> Result<SignedDuration, Expired> {
    let left = now.duration_until(credential.expiration);
    if left <= SignedDuration::ZERO {
        return Err(Expired {
            at: credential.expiration,
        });
    }
    Ok(left)
}

/// Renders `export` lines for a POSIX shell, every value single-quoted.
pub fn render_env(credential: &Credential) -> Zeroizing<String> {
    let expiration = utc_seconds(credential.expiration);
    let lines = [
        ("AWS_ACCESS_KEY_ID", credential.access_key_id.as_str()),
        (
            "AWS_SECRET_ACCESS_KEY",
            credential.secret_access_key.expose(),
        ),
        ("AWS_SESSION_TOKEN", credential.session_token.expose()),
        ("AWS_CREDENTIAL_EXPIRATION", &expiration),
    ];

    // Reserve the worst case up front: a `String` that grows leaves its old buffer unzeroized.
    let capacity = lines
        .iter()
        .map(|(name, value)| name.len() + 4 * value.len() + 12)
        .sum();
    let mut out = Zeroizing::new(String::with_capacity(capacity));
    for (name, value) in lines {
        out.push_str("export ");
        out.push_str(name);
        out.push('=');
        push_shell_quoted(&mut out, value);
        out.push('\n');
    }
    out
}

/// Formats `2026-12-03T14:00:00Z`: the RFC 3339 form that every SDK's parser accepts, with
/// fractions dropped so that a credential never appears to live longer than it does.
fn utc_seconds(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Appends `value` in single quotes; a `'` inside becomes `'\''`.
fn push_shell_quoted(out: &mut String, value: &str) {
    out.push('\'');
    for part in value.split_inclusive('\'') {
        match part.strip_suffix('\'') {
            Some(before) => {
                out.push_str(before);
                out.push_str("'\\''");
            }
            None => out.push_str(part),
        }
    }
    out.push('\'');
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Process<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
}

/// Renders the JSON that a `credential_process` command prints for the AWS CLI and SDKs.
pub fn render_credential_process(credential: &Credential) -> Zeroizing<String> {
    let document = Process {
        version: 1,
        access_key_id: &credential.access_key_id,
        secret_access_key: credential.secret_access_key.expose(),
        session_token: credential.session_token.expose(),
        expiration: utc_seconds(credential.expiration),
    };
    let texts = document.access_key_id.len()
        + document.secret_access_key.len()
        + document.session_token.len();
    let mut out = crate::credential::pretty_json_zeroized(&document, 6 * texts + 256);
    let bytes = std::mem::take(&mut *out);
    Zeroizing::new(String::from_utf8(bytes).expect("serde_json writes UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    #[test]
    fn env_lines_are_exported_and_quoted() {
        assert_eq!(
            render_env(&Credential::example()).as_str(),
            "export AWS_ACCESS_KEY_ID='ASIAEXAMPLE123456789'\n\
             export AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY'\n\
             export AWS_SESSION_TOKEN='FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/='\n\
             export AWS_CREDENTIAL_EXPIRATION='2026-12-03T14:00:00Z'\n"
        );
    }

    #[test]
    fn shell_quoting_survives_a_real_shell() {
        let mut hostile = Credential::example();
        let value = "it's $(touch /tmp/x) `id` \"q\" \\ '' end";
        hostile.session_token = SecretString::from(value);
        let mut quoted = String::new();
        push_shell_quoted(&mut quoted, "it's");
        assert_eq!(quoted, "'it'\\''s'");

        let script = format!(
            "{}printf %s \"$AWS_SESSION_TOKEN\"",
            render_env(&hostile).as_str()
        );
        let output = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("`sh` is needed by this test");
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), value);
    }

    #[test]
    fn credential_process_json_has_version_1() {
        assert_eq!(
            render_credential_process(&Credential::example()).as_str(),
            r#"{
    "Version": 1,
    "AccessKeyId": "ASIAEXAMPLE123456789",
    "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
    "SessionToken": "FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/=",
    "Expiration": "2026-12-03T14:00:00Z"
}
"#
        );
    }

    #[test]
    fn time_left_counts_down_and_refuses_expired_credentials() {
        let credential = Credential::example();
        let before: Timestamp = "2026-12-03T13:50:00Z".parse().expect("valid timestamp");
        let left = time_left(&credential, before).expect("still valid");
        assert_eq!(left, SignedDuration::from_mins(10));
        assert!(left < EXPIRY_WARNING);
        assert_eq!(EXPIRY_WARNING, SignedDuration::from_secs(900));

        let expired = Expired {
            at: credential.expiration,
        };
        assert_eq!(
            time_left(&credential, credential.expiration),
            Err(expired.clone())
        );
        let after: Timestamp = "2026-12-04T00:00:00Z".parse().expect("valid timestamp");
        assert_eq!(time_left(&credential, after), Err(expired.clone()));
        assert_eq!(
            expired.to_string(),
            "credential expired at `2026-12-03T14:00:00Z`"
        );
    }
}
