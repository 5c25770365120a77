//! The recipient's secret keys, read for `stsgrant open`.
//!
//! Recipients hold either an age identity file (what `age-keygen` writes, possibly itself
//! passphrase-encrypted with `age -p`) or an OpenSSH private key. Reading one must never print
//! a line of it, so errors name the file and the line number only. A passphrase is asked for
//! through a callback, so that only the command line decides whether a terminal may prompt.

use std::io::Read;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString as AgeSecret;
use zeroize::Zeroizing;

use super::Recipient;
use crate::secret::SecretString;

/// Identity files are a few kilobytes; anything much larger is the wrong file.
const MAX_IDENTITY_BYTES: u64 = 256 * 1024;

/// Asks for the passphrase of an identity file, or answers `None` when nobody can be asked.
pub type PassphraseSource<'a> = &'a dyn Fn() -> Option<SecretString>;

/// Secret keys that can open sealed outputs, with warnings about how they are stored.
pub struct Identities {
    keys: Vec<Key>,
    warnings: Vec<String>,
}

enum Key {
    X25519(age::x25519::Identity),
    Ssh(age::ssh::Identity),
}

/// Why an identity file could not be used. No variant carries any of the file's content.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The file could not be read.
    #[error("cannot read identity `{path}`")]
    Read {
        /// The identity file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than any identity file.
    #[error("identity `{path}` is too large to be an identity file")]
    TooLarge {
        /// The identity file.
        path: PathBuf,
    },
    /// The file holds no identity.
    #[error("identity `{path}` contains no identity")]
    Empty {
        /// The identity file.
        path: PathBuf,
    },
    /// A line is neither an identity, a comment nor blank.
    #[error("identity `{path}` has something other than an identity on line {line}")]
    Unrecognized {
        /// The identity file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// The file holds a public key instead of a secret one.
    #[error("identity `{path}` holds a public key on line {line}, not a secret key")]
    PublicKey {
        /// The identity file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An `AGE-SECRET-KEY-1…` line that does not decode.
    #[error("identity `{path}` has a damaged age secret key on line {line}")]
    BadAgeKey {
        /// The identity file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An identity for an age plugin, which stsgrant does not run.
    #[error(
        "identity `{path}` is for the age plugin `age-plugin-{plugin}`, which is not supported"
    )]
    PluginIdentity {
        /// The identity file.
        path: PathBuf,
        /// The plugin's name, such as `yubikey`.
        plugin: String,
    },
    /// The key is encrypted and no passphrase could be asked for.
    #[error("identity `{path}` is protected by a passphrase")]
    PassphraseRequired {
        /// The identity file.
        path: PathBuf,
    },
    /// The passphrase did not decrypt the key.
    #[error("wrong passphrase for identity `{path}`")]
    WrongPassphrase {
        /// The identity file.
        path: PathBuf,
    },
    /// An ssh key of a type or in a format that age cannot use.
    #[error("identity `{path}` is an ssh key that age cannot use: {reason}")]
    UnsupportedSshKey {
        /// The identity file.
        path: PathBuf,
        /// The key type or format, e.g. `ecdsa-sha2-nistp256 keys are not supported`.
        reason: String,
    },
}

impl IdentityError {
    /// What the user can do about the error.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                "give the file that `age-keygen` wrote, or an ssh private key such as \
                 `~/.ssh/id_ed25519`"
                    .to_owned()
            }
            Self::Read { .. } | Self::BadAgeKey { .. } | Self::WrongPassphrase { .. } => {
                return None;
            }
            Self::TooLarge { .. } | Self::Empty { .. } | Self::Unrecognized { .. } => {
                "an identity file holds `AGE-SECRET-KEY-1…` lines or one OpenSSH private key"
                    .to_owned()
            }
            Self::PublicKey { .. } => {
                "give the secret key: the file `age-keygen` wrote, or `~/.ssh/id_ed25519` rather \
                 than `~/.ssh/id_ed25519.pub`"
                    .to_owned()
            }
            Self::PluginIdentity { path, .. } => {
                format!("decrypt with `age -d -i {}` instead", path.display())
            }
            Self::PassphraseRequired { path } => format!(
                "run `stsgrant open` on a terminal to be asked for it, or decrypt with \
                 `age -d -i {}`",
                path.display()
            ),
            Self::UnsupportedSshKey { path, .. } => format!(
                "convert an old PEM key with `ssh-keygen -p -f {}`, or use an ssh-ed25519 key",
                path.display()
            ),
        })
    }
}

impl Identities {
    /// Problems with how the identity file is stored, for the caller to log; never secret.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The public keys that these identities open, for telling the user which keys they hold.
    pub fn recipients(&self) -> Vec<Recipient> {
        self.keys
            .iter()
            .filter_map(|key| match key {
                Key::X25519(identity) => Some(Recipient::X25519(identity.to_public())),
                Key::Ssh(identity) => {
                    let public = age::ssh::Recipient::try_from(identity.clone()).ok()?;
                    Some(match public {
                        age::ssh::Recipient::SshEd25519(..) => Recipient::SshEd25519(public),
                        age::ssh::Recipient::SshRsa(..) => Recipient::SshRsa(public),
                    })
                }
            })
            .collect()
    }

    /// The identities as age uses them for decryption.
    pub(crate) fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|key| -> &dyn age::Identity {
            match key {
                Key::X25519(identity) => identity,
                Key::Ssh(identity) => identity,
            }
        })
    }
}

/// Reads an age identity file or an OpenSSH private key (ed25519 or rsa).
///
/// `passphrase` is called at most once, when the key is encrypted; without it, an encrypted
/// key is refused with [`IdentityError::PassphraseRequired`]. On unix, a file that others may
/// read is accepted with a warning in [`Identities::warnings`].
pub fn read_identities(
    path: &Path,
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Identities, IdentityError> {
    let read_error = |source| IdentityError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let warnings = permission_warnings(path, &file);
    let mut content = Zeroizing::new(Vec::new());
    file.take(MAX_IDENTITY_BYTES + 1)
        .read_to_end(&mut content)
        .map_err(read_error)?;
    if content.len() as u64 > MAX_IDENTITY_BYTES {
        return Err(IdentityError::TooLarge {
            path: path.to_owned(),
        });
    }

    let keys = parse(path, &content, passphrase)?;
    Ok(Identities { keys, warnings })
}

fn parse(
    path: &Path,
    content: &[u8],
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Vec<Key>, IdentityError> {
    let Ok(text) = std::str::from_utf8(content) else {
        return Err(IdentityError::Unrecognized {
            path: path.to_owned(),
            line: 1,
        });
    };
    if text
        .trim_start()
        .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
        || content.starts_with(b"age-encryption.org/")
    {
        let decrypted = decrypt_identity_file(path, content, passphrase)?;
        return parse_age_lines(path, &decrypted);
    }
    if text.trim_start().starts_with("-----BEGIN ") {
        return parse_ssh(path, text, passphrase).map(|key| vec![key]);
    }
    parse_age_lines(path, text.as_bytes())
}

fn parse_age_lines(path: &Path, content: &[u8]) -> Result<Vec<Key>, IdentityError> {
    let text = std::str::from_utf8(content).map_err(|_| IdentityError::Unrecognized {
        path: path.to_owned(),
        line: 1,
    })?;
    let mut keys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let (line, number) = (line.trim(), index + 1);
        let upper = line.to_ascii_uppercase();
        if line.is_empty() || line.starts_with('#') {
            continue;
        } else if upper.starts_with("AGE-SECRET-KEY-1") {
            let key = line.parse().map_err(|_| IdentityError::BadAgeKey {
                path: path.to_owned(),
                line: number,
            })?;
            keys.push(Key::X25519(key));
        } else if let Some(rest) = upper.strip_prefix("AGE-PLUGIN-") {
            let plugin = rest.rsplit_once("-1").map_or(rest, |(name, _)| name);
            let plugin = plugin.to_ascii_lowercase();
            return Err(IdentityError::PluginIdentity {
                path: path.to_owned(),
                plugin,
            });
        } else if line.parse::<Recipient>().is_ok() || upper.starts_with("AGE1") {
            return Err(IdentityError::PublicKey {
                path: path.to_owned(),
                line: number,
            });
        } else {
            return Err(IdentityError::Unrecognized {
                path: path.to_owned(),
                line: number,
            });
        }
    }
    if keys.is_empty() {
        return Err(IdentityError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(keys)
}

fn parse_ssh(
    path: &Path,
    text: &str,
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Key, IdentityError> {
    let unsupported = |reason: String| IdentityError::UnsupportedSshKey {
        path: path.to_owned(),
        reason,
    };
    let identity = age::ssh::Identity::from_buffer(text.as_bytes(), None).map_err(|_| {
        IdentityError::Unrecognized {
            path: path.to_owned(),
            line: 1,
        }
    })?;
    match identity {
        age::ssh::Identity::Unencrypted(_) => Ok(Key::Ssh(identity)),
        age::ssh::Identity::Encrypted(encrypted) => {
            let secret = ask(path, passphrase)?;
            let key = encrypted
                .decrypt(secret)
                .map_err(|_| IdentityError::WrongPassphrase {
                    path: path.to_owned(),
                })?;
            Ok(Key::Ssh(age::ssh::Identity::Unencrypted(key)))
        }
        age::ssh::Identity::Unsupported(key) => Err(unsupported(match key {
            age::ssh::UnsupportedKey::EncryptedPem => {
                "passphrase-protected keys in the old PEM format are not supported".to_owned()
            }
            age::ssh::UnsupportedKey::EncryptedSsh(cipher) => {
                format!("keys encrypted with `{cipher}` are not supported")
            }
            age::ssh::UnsupportedKey::Hardware(kind) | age::ssh::UnsupportedKey::Type(kind) => {
                format!("`{kind}` keys are not supported")
            }
        })),
    }
}

/// Opens an identity file that was itself encrypted with `age -p`.
fn decrypt_identity_file(
    path: &Path,
    content: &[u8],
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Zeroizing<Vec<u8>>, IdentityError> {
    let unrecognized = || IdentityError::Unrecognized {
        path: path.to_owned(),
        line: 1,
    };
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(content))
        .map_err(|_| unrecognized())?;
    if !decryptor.is_scrypt() {
        return Err(unrecognized());
    }
    let identity = age::scrypt::Identity::new(ask(path, passphrase)?);
    let wrong = || IdentityError::WrongPassphrase {
        path: path.to_owned(),
    };
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as _))
        .map_err(|_| wrong())?;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(content.len()));
    reader.read_to_end(&mut plaintext).map_err(|_| wrong())?;
    Ok(plaintext)
}

fn ask(path: &Path, passphrase: Option<PassphraseSource<'_>>) -> Result<AgeSecret, IdentityError> {
    let required = || IdentityError::PassphraseRequired {
        path: path.to_owned(),
    };
    let secret = passphrase.ok_or_else(required)?().ok_or_else(required)?;
    Ok(AgeSecret::from(secret.expose().clone()))
}

#[cfg(unix)]
fn permission_warnings(path: &Path, file: &std::fs::File) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    match file.metadata() {
        Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => vec![format!(
            "identity `{}` can be read by other users (mode `{:04o}`); restrict it with \
             `chmod 600 {}`",
            path.display(),
            metadata.permissions().mode() & 0o7777,
            path.display()
        )],
        _ => Vec::new(),
    }
}

#[cfg(not(unix))]
fn permission_warnings(_: &Path, _: &std::fs::File) -> Vec<String> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::super::testkit::{age_key, passphrase_encrypt, ssh_key};
    use super::*;

    fn read(path: &Path) -> Result<Identities, IdentityError> {
        read_identities(path, None)
    }

    fn public_keys(identities: &Identities) -> Vec<String> {
        identities
            .recipients()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reads_age_identity_files_with_comments_and_several_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, first_public) = age_key(dir.path(), "first.txt");
        let (second, second_public) = age_key(dir.path(), "second.txt");
        let both = dir.path().join("both.txt");
        let text = [std::fs::read(&first), std::fs::read(&second)].map(|r| r.expect("readable"));
        std::fs::write(&both, [&text[0][..], b"\n\n", &text[1][..]].concat()).expect("write");
        let identities = read(&both).expect("reads");
        let expected = vec![first_public.to_string(), second_public.to_string()];
        assert_eq!(public_keys(&identities), expected);
        assert!(read(&first).expect("reads").warnings().is_empty());
    }

    #[test]
    fn reads_unencrypted_ssh_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        for kind in ["ed25519", "rsa"] {
            let (path, public) = ssh_key(dir.path(), kind, kind, "");
            let expected: Recipient = public.parse().expect("valid");
            assert_eq!(
                public_keys(&read(&path).expect("reads")),
                vec![expected.to_string()]
            );
        }
    }

    fn asks(answer: Option<&'static str>, calls: &Cell<u32>) -> impl Fn() -> Option<SecretString> {
        move || {
            calls.set(calls.get() + 1);
            answer.map(SecretString::from)
        }
    }

    fn check_passphrase_handling(path: &Path) {
        let calls = Cell::new(0);
        let error = read(path).err().expect("needs a passphrase");
        assert!(matches!(error, IdentityError::PassphraseRequired { .. }));
        let message = format!("identity `{}` is protected by a passphrase", path.display());
        assert_eq!(error.to_string(), message);
        assert!(error.hint().expect("has a hint").contains("age -d -i"));
        let error = read_identities(path, Some(&asks(None, &calls)))
            .err()
            .expect("no answer");
        assert!(matches!(error, IdentityError::PassphraseRequired { .. }));
        let error = read_identities(path, Some(&asks(Some("wrong"), &calls))).err();
        assert!(matches!(error, Some(IdentityError::WrongPassphrase { .. })));
        let identities = read_identities(path, Some(&asks(Some("s3cret pass"), &calls)));
        assert_eq!(identities.expect("right passphrase").recipients().len(), 1);
        assert_eq!(calls.get(), 3, "asked once per attempt");
    }

    #[test]
    fn passphrase_protected_ssh_key_is_asked_for_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        check_passphrase_handling(&ssh_key(dir.path(), "id", "ed25519", "s3cret pass").0);
    }

    #[test]
    fn passphrase_encrypted_age_identity_file_is_asked_for_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (plain, _) = age_key(dir.path(), "key.txt");
        let sealed = passphrase_encrypt(&std::fs::read(plain).expect("read"), "s3cret pass");
        let path = dir.path().join("key.txt.age");
        std::fs::write(&path, sealed).expect("write");
        check_passphrase_handling(&path);
    }

    #[cfg(unix)]
    #[test]
    fn file_readable_by_others_gives_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = age_key(dir.path(), "key.txt");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(read(&path).expect("reads").warnings().is_empty());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let identities = read(&path).expect("still reads");
        assert_eq!(identities.warnings().len(), 1);
        assert!(
            identities.warnings()[0].contains("(mode `0644`)"),
            "{:?}",
            identities.warnings()
        );
        assert!(identities.warnings()[0].contains("chmod 600"));
    }

    #[test]
    fn refuses_what_is_no_usable_identity_without_quoting_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, public) = age_key(dir.path(), "key.txt");
        let secret_line = std::fs::read_to_string(&key).expect("read");
        let secret_line = secret_line.lines().last().expect("has the key line");
        let damaged = format!("# comment\n{}X\n", &secret_line[..secret_line.len() - 1]);
        let (_, ssh_public) = ssh_key(dir.path(), "id_ed25519", "ed25519", "");
        let (ecdsa, _) = ssh_key(dir.path(), "id_ecdsa", "ecdsa", "");
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", b"".to_vec()),
            ("comments", b"# created: today\n\n".to_vec()),
            ("age-public", format!("# key\n{public}\n").into_bytes()),
            ("ssh-public", ssh_public.into_bytes()),
            ("damaged", damaged.into_bytes()),
            ("plugin", b"AGE-PLUGIN-YUBIKEY-1QQQQQQ\n".to_vec()),
            ("text", b"hello\n".to_vec()),
            ("binary", vec![0xff, 0xfe, 0x00]),
            ("large", vec![b'#'; MAX_IDENTITY_BYTES as usize + 1]),
            ("ecdsa", std::fs::read(ecdsa).expect("read")),
        ];
        for (name, content) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, content).expect("write");
            let error = read(&path).err().expect("must be refused");
            let shown = format!("{error} {error:?} {:?}", error.hint());
            assert!(!shown.contains(&secret_line[16..40]), "{shown}");
            let expected = match name {
                "empty" | "comments" => matches!(error, IdentityError::Empty { .. }),
                "age-public" => matches!(error, IdentityError::PublicKey { line: 2, .. }),
                "ssh-public" => matches!(error, IdentityError::PublicKey { line: 1, .. }),
                "damaged" => matches!(error, IdentityError::BadAgeKey { line: 2, .. }),
                "plugin" => matches!(&error, IdentityError::PluginIdentity { plugin, .. }
                    if plugin == "yubikey"),
                "text" | "binary" => matches!(error, IdentityError::Unrecognized { line: 1, .. }),
                "large" => matches!(error, IdentityError::TooLarge { .. }),
                _ => matches!(error, IdentityError::UnsupportedSshKey { .. }),
            };
            assert!(expected, "{name}: {shown}");
        }
        let missing = read(&dir.path().join("missing"))
            .err()
            .expect("no such file");
        assert!(matches!(missing, IdentityError::Read { .. }));
        assert!(missing.hint().expect("has a hint").contains("age-keygen"));
    }

    #[test]
    fn old_pem_ssh_keys_work_unless_encrypted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("id_rsa");
        let path_text = path.to_str().expect("UTF-8");
        let args = [
            "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", path_text,
        ];
        super::super::testkit::run("ssh-keygen", &args, None);
        assert_eq!(read(&path).expect("reads").recipients().len(), 1);
        let args = [
            "-q",
            "-p",
            "-m",
            "PEM",
            "-N",
            "s3cret pass",
            "-P",
            "",
            "-f",
            path_text,
        ];
        super::super::testkit::run("ssh-keygen", &args, None);
        let error = read(&path).err().expect("refused");
        assert!(
            matches!(error, IdentityError::UnsupportedSshKey { .. }),
            "{error}"
        );
        assert!(
            error
                .hint()
                .expect("has a hint")
                .contains("ssh-keygen -p -f")
        );
    }
}
