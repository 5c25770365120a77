//! The public key a grant names, so that only its holder can read the credential.
//!
//! Requesters paste keys into grant files by hand, so parsing recognises the usual mistakes
//! and says what to paste instead: a secret key where the public key belongs (the message never
//! repeats it), an ssh private key, key types age cannot encrypt to, a mistyped `age1…` string,
//! and recipients of age plugins, which stsgrant never looks up or runs.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::starts_with_any_case;

/// The length of every native age public key, `age1` and 58 characters.
const X25519_LENGTH: usize = 62;

/// A public key that a credential can be sealed to.
#[derive(Clone)]
pub enum Recipient {
    /// A native age key, `age1…`.
    X25519(age::x25519::Recipient),
    /// An OpenSSH `ssh-ed25519` public key.
    SshEd25519(age::ssh::Recipient),
    /// An OpenSSH `ssh-rsa` public key of at least 2048 bits.
    SshRsa(age::ssh::Recipient),
}

/// Why a text is not a usable recipient.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecipientError {
    /// Nothing was given.
    #[error("recipient is empty")]
    Empty,
    /// An age secret key (or plugin identity) was given. The value is deliberately not kept.
    #[error("recipient is an age secret key, not a public key")]
    SecretKey,
    /// An ssh private key was given.
    #[error("recipient is an ssh private key, not a public key")]
    SshPrivateKey,
    /// An ssh key type that age cannot encrypt to.
    #[error("ssh key type `{kind}` is not supported by age")]
    UnsupportedSshKey {
        /// The key type, such as `ecdsa-sha2-nistp256`.
        kind: String,
    },
    /// An `ssh-rsa` key shorter than 2048 bits, or longer than age accepts.
    #[error("ssh-rsa key size is not supported by age")]
    RsaKeySize,
    /// An `ssh-ed25519` or `ssh-rsa` line whose key does not decode.
    #[error("`{kind}` public key is damaged")]
    BadSshKey {
        /// `ssh-ed25519` or `ssh-rsa`.
        kind: &'static str,
    },
    /// An `age1…` text whose checksum or length is wrong.
    #[error("`{text}` is not a valid age public key")]
    BadAgeKey {
        /// The text as given; public, so it is safe to repeat.
        text: String,
    },
    /// A recipient for an age plugin, such as `age1yubikey1…`.
    #[error("recipient is for the age plugin `age-plugin-{plugin}`, and plugins are not supported")]
    PluginRecipient {
        /// The plugin's name, such as `yubikey`.
        plugin: String,
    },
    /// Anything else.
    #[error("recipient is not an age or ssh public key")]
    Unrecognized,
}

impl RecipientError {
    /// What the user can do about the error.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::SecretKey => {
                "never share the secret key; paste the public key `age1…` that `age-keygen -y \
                 KEYFILE` prints, and make a new key if the secret one was published"
            }
            Self::SshPrivateKey => {
                "never share the private key; paste the public key from the `.pub` file, such as \
                 `~/.ssh/id_ed25519.pub`"
            }
            Self::UnsupportedSshKey { .. } | Self::RsaKeySize => {
                "use an `ssh-ed25519` key (`ssh-keygen -t ed25519`) or an age key (`age-keygen`)"
            }
            Self::BadSshKey { .. } => "copy the whole line of the `.pub` file again",
            Self::BadAgeKey { .. } => {
                "copy the key again; `age-keygen -y KEYFILE` prints the public key of a key file"
            }
            Self::PluginRecipient { .. } => {
                "use a native age key (`age-keygen`) or an `ssh-ed25519` key instead"
            }
            Self::Empty | Self::Unrecognized => {
                "give an age public key `age1…`, or an `ssh-ed25519 …` or `ssh-rsa …` public key"
            }
        })
    }
}

impl Recipient {
    /// Names the key without revealing anything secret: `sha256:` and the first 16 hex digits of
    /// the SHA-256 of the canonical public key text. Issuance records use it.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.to_string().as_bytes());
        let hex: String = digest
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("sha256:{hex}")
    }

    /// The key as age uses it for encryption.
    pub(crate) fn as_age(&self) -> &dyn age::Recipient {
        match self {
            Self::X25519(key) => key,
            Self::SshEd25519(key) | Self::SshRsa(key) => key,
        }
    }
}

impl FromStr for Recipient {
    type Err = RecipientError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            Err(RecipientError::Empty)
        } else if starts_with_any_case(text, "AGE-SECRET-KEY-")
            || starts_with_any_case(text, "AGE-PLUGIN-")
        {
            Err(RecipientError::SecretKey)
        } else if text.contains("PRIVATE KEY-----") {
            Err(RecipientError::SshPrivateKey)
        } else if starts_with_any_case(text, "age1") {
            parse_age(text)
        } else {
            parse_ssh(text)
        }
    }
}

fn parse_age(text: &str) -> Result<Recipient, RecipientError> {
    if let Ok(key) = text.parse::<age::x25519::Recipient>() {
        return Ok(Recipient::X25519(key));
    }
    // Bech32 puts the last `1` between the human-readable part and the data; a plugin's
    // recipients have the human-readable part `age1NAME`. A native key is always 62 characters
    // long, so at that length a stray `1` is taken for a typo, not for a plugin.
    let hrp = text
        .rfind('1')
        .map_or(text, |end| &text[..end])
        .to_ascii_lowercase();
    match hrp.strip_prefix("age1") {
        Some(plugin)
            if text.len() != X25519_LENGTH
                && !plugin.is_empty()
                && plugin.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Err(RecipientError::PluginRecipient {
                plugin: plugin.to_owned(),
            })
        }
        _ => Err(RecipientError::BadAgeKey {
            text: text.to_owned(),
        }),
    }
}

fn parse_ssh(text: &str) -> Result<Recipient, RecipientError> {
    let mut fields = text.split_ascii_whitespace();
    let (kind, key) = match (fields.next(), fields.next()) {
        (Some(kind), Some(key)) => (kind, key),
        _ => return Err(RecipientError::Unrecognized),
    };
    let kind = match kind {
        "ssh-ed25519" => "ssh-ed25519",
        "ssh-rsa" => "ssh-rsa",
        "ssh-dss" => {
            return Err(RecipientError::UnsupportedSshKey {
                kind: kind.to_owned(),
            });
        }
        other if other.starts_with("ecdsa-sha2-") || other.starts_with("sk-") => {
            return Err(RecipientError::UnsupportedSshKey {
                kind: kind.to_owned(),
            });
        }
        _ => return Err(RecipientError::Unrecognized),
    };

    let line = format!("{kind} {key}");
    let parsed = line
        .parse::<age::ssh::Recipient>()
        .map_err(|error| match error {
            age::ssh::ParseRecipientKeyError::RsaModulusTooLarge
            | age::ssh::ParseRecipientKeyError::RsaModulusTooSmall => RecipientError::RsaKeySize,
            _ => RecipientError::BadSshKey { kind },
        })?;
    // age's parser stops at the end of a valid key and takes whatever follows for a comment;
    // a key with extra characters must not silently become a different key.
    if parsed.to_string() != line {
        return Err(RecipientError::BadSshKey { kind });
    }
    Ok(match &parsed {
        age::ssh::Recipient::SshEd25519(..) => Recipient::SshEd25519(parsed),
        age::ssh::Recipient::SshRsa(..) => Recipient::SshRsa(parsed),
    })
}

impl fmt::Display for Recipient {
    /// The canonical public form: `age1…`, or the ssh key type and key without a comment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::X25519(key) => key.fmt(f),
            Self::SshEd25519(key) | Self::SshRsa(key) => key.fmt(f),
        }
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({self})")
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Recipient {}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE_PUBLIC: &str = "age1x2un3q4rfyyuxmradglu5xuva4j8ygrfcn29espypqhpljwyxgcswa2g9x";
    const AGE_SECRET: &str =
        "AGE-SECRET-KEY-1RU6EZ90LUQRVFUTPS4W07FGZH4YKNTK92GKSQUNVA9FDX9TM0FQQDL83MU";
    const ED25519: &str = "ssh-ed25519 \
        AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAAB\
        BBHFliOyIZs1gxGF3fmDxFykQhE88wy6AKDGFBfn0R6ZuvRmENABZQa9+pj9hMki+LX0qDJbmHTiWDbYv/cmFt/Q=";

    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDDVMCX/3S7o9Y9R8oiwW0jQgg4kDEUXw6\
        10F2nH3S0glh9mFGbRyPhrfpjHni6bO+oseqKO6CIjlQ/KSxnIfSp74RYhlfMOXe0mC9iQx68QODqI/QTa0NO4g+ZkB\
        Rs6hrYOFZ5lZVuWg/tH43X6c+75umvv50PKuNrIWp0vmRpzw== root@vm";

    fn error(text: &str) -> RecipientError {
        text.parse::<Recipient>().expect_err("must be refused")
    }

    #[test]
    fn parses_age_and_ssh_keys_to_their_canonical_form() {
        let age: Recipient = format!("  {AGE_PUBLIC}\n").parse().expect("valid age key");
        assert!(matches!(age, Recipient::X25519(_)));
        assert_eq!(age.to_string(), AGE_PUBLIC);
        let ssh: Recipient = format!("{ED25519}  alice@laptop\n").parse().expect("valid");
        assert!(matches!(ssh, Recipient::SshEd25519(_)));
        assert_eq!(ssh.to_string(), ED25519);
        assert_eq!(format!("{ssh:?}"), format!("Recipient({ED25519})"));
    }

    #[test]
    fn fingerprint_is_a_short_sha256_of_the_canonical_form() {
        let age: Recipient = AGE_PUBLIC.parse().expect("valid age key");
        let fingerprint = age.fingerprint();
        assert_eq!(fingerprint.len(), "sha256:".len() + 16);
        let digest = Sha256::digest(AGE_PUBLIC.as_bytes());
        assert_eq!(fingerprint[7..9], format!("{:02x}", digest[0]));
        let commented: Recipient = format!("{ED25519} alice").parse().expect("valid");
        let bare: Recipient = ED25519.parse().expect("valid");
        assert_eq!(commented.fingerprint(), bare.fingerprint());
        assert_ne!(bare.fingerprint(), fingerprint);
    }

    #[test]
    fn secret_key_is_refused_without_echoing_it() {
        for text in [
            AGE_SECRET,
            &AGE_SECRET.to_lowercase(),
            "AGE-PLUGIN-YUBIKEY-1QQQQ",
        ] {
            let error = error(text);
            assert_eq!(error, RecipientError::SecretKey);
            let shown = format!("{error} {error:?} {:?}", error.hint());
            assert!(
                !shown.to_ascii_uppercase().contains("1RU6EZ90LUQ"),
                "{shown}"
            );
            assert!(shown.contains("age-keygen -y"));
        }
    }

    #[test]
    fn common_mistakes_get_their_own_error() {
        let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n";
        assert_eq!(error(private), RecipientError::SshPrivateKey);
        assert_eq!(error(" \n"), RecipientError::Empty);
        assert_eq!(error("alice@example.org"), RecipientError::Unrecognized);
        let dss = RecipientError::UnsupportedSshKey {
            kind: "ssh-dss".to_owned(),
        };
        assert_eq!(error("ssh-dss AAAAB3NzaC1kc3MAAACBAP"), dss);
        let ecdsa = RecipientError::UnsupportedSshKey {
            kind: "ecdsa-sha2-nistp256".to_owned(),
        };
        assert_eq!(error(ECDSA), ecdsa);
        let broken = ED25519.replace("AAAAI", "AAAAJ");
        assert_eq!(
            error(&broken),
            RecipientError::BadSshKey {
                kind: "ssh-ed25519"
            }
        );
        let longer = format!("{ED25519}x");
        assert_eq!(
            error(&longer),
            RecipientError::BadSshKey {
                kind: "ssh-ed25519"
            }
        );
        assert_eq!(
            error("ssh-rsa AAAA"),
            RecipientError::BadSshKey { kind: "ssh-rsa" }
        );
        assert_eq!(error(RSA_1024), RecipientError::RsaKeySize);
    }

    #[test]
    fn mistyped_age_key_is_named() {
        let typo = AGE_PUBLIC.replace("x2un", "x2nu");
        assert_eq!(
            error(&typo),
            RecipientError::BadAgeKey { text: typo.clone() }
        );
        let short = &AGE_PUBLIC[..AGE_PUBLIC.len() - 1];
        assert_eq!(
            error(short),
            RecipientError::BadAgeKey {
                text: short.to_owned()
            }
        );
        assert!(error(&typo).to_string().contains(&format!("`{typo}`")));
    }

    #[test]
    fn plugin_recipients_are_refused() {
        let yubikey = "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t";
        let error = error(yubikey);
        assert_eq!(
            error,
            RecipientError::PluginRecipient {
                plugin: "yubikey".to_owned()
            }
        );
        assert!(error.to_string().contains("`age-plugin-yubikey`"));
    }
}
