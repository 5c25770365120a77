//! The recipient's secret keys, read for `stsgrant open`.
//!
//! Recipients hold either an age identity file (what `age-keygen` writes) or an OpenSSH private
//! key. Reading one must never print a line of it, so errors name the file and the line number
//! only. Keys protected by a passphrase are opened in [`super::unlock`].

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::unlock::{self, PassphraseSource};
use super::{Recipient, starts_with_any_case};

/// Identity files are a few kilobytes; anything much larger is the wrong file.
const MAX_IDENTITY_BYTES: u64 = 256 * 1024;

/// Secret keys that can open sealed outputs, with warnings about how they are stored.
pub struct Identities {
    keys: Vec<Key>,
    warnings: Vec<String>,
}

pub(super) enum Key {
    X25519(age::x25519::Identity),
    Ssh(age::ssh::Identity),
}

/// An identity file that could not be used, and why.
#[derive(Debug)]
pub struct IdentityError {
    /// The identity file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: IdentityProblem,
}

/// What is wrong with an identity file. No variant carries any of the file's content.
#[derive(Debug, thiserror::Error)]
pub enum IdentityProblem {
    /// The file could not be read.
    #[error("cannot be read")]
    Read(#[source] std::io::Error),
    /// The file is larger than any identity file.
    #[error("is too large to be an identity file")]
    TooLarge,
    /// The file holds no identity.
    #[error("contains no identity")]
    Empty,
    /// A line (1-based) is neither an identity, a comment nor blank.
    #[error("has something other than an identity on line {0}")]
    Unrecognized(usize),
    /// A line (1-based) holds a public key instead of a secret one.
    #[error("holds a public key on line {0}, not a secret key")]
    PublicKey(usize),
    /// An `AGE-SECRET-KEY-1…` line (1-based) that does not decode.
    #[error("has a damaged age secret key on line {0}")]
    BadAgeKey(usize),
    /// An identity for the named age plugin, which stsgrant does not run.
    #[error("is for the age plugin `age-plugin-{0}`, which is not supported")]
    PluginIdentity(String),
    /// The key is encrypted and no passphrase could be asked for.
    #[error("is protected by a passphrase")]
    PassphraseRequired,
    /// The passphrase did not decrypt the key.
    #[error("cannot be decrypted with the passphrase given")]
    WrongPassphrase,
    /// An ssh key of a type or in a format that age cannot use, and why.
    #[error("is an ssh key that age cannot use: {0}")]
    UnsupportedSshKey(String),
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "identity `{}` {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for IdentityError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.problem)
    }
}

impl IdentityError {
    /// What the user can do about the error.
    pub fn hint(&self) -> Option<String> {
        let path = self.path.display();
        Some(match &self.problem {
            IdentityProblem::Read(source) if source.kind() == std::io::ErrorKind::NotFound => {
                "give the file that `age-keygen` wrote, or an ssh private key such as \
                 `~/.ssh/id_ed25519`"
                    .to_owned()
            }
            IdentityProblem::TooLarge
            | IdentityProblem::Empty
            | IdentityProblem::Unrecognized(_) => {
                "an identity file holds `AGE-SECRET-KEY-1…` lines or one OpenSSH private key"
                    .to_owned()
            }
            IdentityProblem::PublicKey(_) => "give the secret key: the file `age-keygen` wrote, \
                 or `~/.ssh/id_ed25519` rather than `~/.ssh/id_ed25519.pub`"
                .to_owned(),
            IdentityProblem::PluginIdentity(_) => format!("decrypt with `age -d -i {path}`"),
            IdentityProblem::PassphraseRequired => format!(
                "run `stsgrant open` on a terminal to be asked for it, or decrypt with \
                 `age -d -i {path}`"
            ),
            IdentityProblem::UnsupportedSshKey(_) => format!(
                "convert an old PEM key with `ssh-keygen -p -f {path}`, or use an ssh-ed25519 key"
            ),
            IdentityProblem::Read(_)
            | IdentityProblem::BadAgeKey(_)
            | IdentityProblem::WrongPassphrase => return None,
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
/// `passphrase` is called at most once, when the key is encrypted (an OpenSSH key with a
/// passphrase, or an identity file encrypted with `age -p`); without it, an encrypted key is
/// refused with [`IdentityProblem::PassphraseRequired`]. On unix, a file that others may read is
/// accepted with a warning in [`Identities::warnings`].
pub fn read_identities(
    path: &Path,
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Identities, IdentityError> {
    let fail = |problem| IdentityError {
        path: path.to_owned(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(|error| fail(IdentityProblem::Read(error)))?;
    let warnings = permission_warnings(path, &file);
    let mut content = Zeroizing::new(Vec::new());
    file.take(MAX_IDENTITY_BYTES + 1)
        .read_to_end(&mut content)
        .map_err(|error| fail(IdentityProblem::Read(error)))?;
    if content.len() as u64 > MAX_IDENTITY_BYTES {
        return Err(fail(IdentityProblem::TooLarge));
    }

    let keys = parse(&content, passphrase).map_err(fail)?;
    Ok(Identities { keys, warnings })
}

fn parse(
    content: &[u8],
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Vec<Key>, IdentityProblem> {
    let start = content
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(0);
    let trimmed = &content[start..];
    if trimmed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
        || trimmed.starts_with(b"age-encryption.org/")
    {
        let decrypted = unlock::identity_file(trimmed, passphrase)?;
        parse_age_lines(&decrypted)
    } else if trimmed.starts_with(b"-----BEGIN ") {
        parse_ssh(trimmed, passphrase).map(|key| vec![key])
    } else {
        parse_age_lines(content)
    }
}

fn parse_age_lines(content: &[u8]) -> Result<Vec<Key>, IdentityProblem> {
    let text = std::str::from_utf8(content).map_err(|_| IdentityProblem::Unrecognized(1))?;
    let mut keys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let (line, number) = (line.trim(), index + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        } else if starts_with_any_case(line, "AGE-SECRET-KEY-1") {
            let key = line
                .parse()
                .map_err(|_| IdentityProblem::BadAgeKey(number))?;
            keys.push(Key::X25519(key));
        } else if starts_with_any_case(line, "AGE-PLUGIN-") {
            let rest = &line["AGE-PLUGIN-".len()..];
            let plugin = rest.rsplit_once("-1").map_or(rest, |(name, _)| name);
            return Err(IdentityProblem::PluginIdentity(plugin.to_ascii_lowercase()));
        } else if line.parse::<Recipient>().is_ok() || starts_with_any_case(line, "age1") {
            return Err(IdentityProblem::PublicKey(number));
        } else {
            return Err(IdentityProblem::Unrecognized(number));
        }
    }
    if keys.is_empty() {
        return Err(IdentityProblem::Empty);
    }
    Ok(keys)
}

fn parse_ssh(
    content: &[u8],
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Key, IdentityProblem> {
    let identity = age::ssh::Identity::from_buffer(content, None)
        .map_err(|_| IdentityProblem::Unrecognized(1))?;
    let reason = match identity {
        age::ssh::Identity::Unencrypted(_) => return Ok(Key::Ssh(identity)),
        age::ssh::Identity::Encrypted(key) => return unlock::ssh_key(&key, passphrase),
        age::ssh::Identity::Unsupported(age::ssh::UnsupportedKey::EncryptedPem) => {
            "passphrase-protected keys in the old PEM format are not supported".to_owned()
        }
        age::ssh::Identity::Unsupported(age::ssh::UnsupportedKey::EncryptedSsh(cipher)) => {
            format!("keys encrypted with `{cipher}` are not supported")
        }
        age::ssh::Identity::Unsupported(
            age::ssh::UnsupportedKey::Hardware(kind) | age::ssh::UnsupportedKey::Type(kind),
        ) => format!("`{kind}` keys are not supported"),
    };
    Err(IdentityProblem::UnsupportedSshKey(reason))
}

#[cfg(unix)]
fn permission_warnings(path: &Path, file: &std::fs::File) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    match file.metadata() {
        Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => vec![format!(
            "identity `{path}` can be read by other users (mode `{:04o}`); restrict it with \
             `chmod 600 {path}`",
            metadata.permissions().mode() & 0o7777,
            path = path.display(),
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
    use super::super::testkit::{age_key, run, ssh_key};
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
                "empty" | "comments" => matches!(error.problem, IdentityProblem::Empty),
                "age-public" => matches!(error.problem, IdentityProblem::PublicKey(2)),
                "ssh-public" => matches!(error.problem, IdentityProblem::PublicKey(1)),
                "damaged" => matches!(error.problem, IdentityProblem::BadAgeKey(2)),
                "plugin" => matches!(&error.problem, IdentityProblem::PluginIdentity(plugin)
                    if plugin == "yubikey"),
                "text" | "binary" => matches!(error.problem, IdentityProblem::Unrecognized(1)),
                "large" => matches!(error.problem, IdentityProblem::TooLarge),
                _ => matches!(error.problem, IdentityProblem::UnsupportedSshKey(_)),
            };
            assert!(expected, "{name}: {shown}");
        }
        let missing = read(&dir.path().join("missing"))
            .err()
            .expect("no such file");
        assert!(matches!(missing.problem, IdentityProblem::Read(_)));
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
        run("ssh-keygen", &args, None);
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
        run("ssh-keygen", &args, None);
        let error = read(&path).err().expect("refused");
        assert!(
            matches!(error.problem, IdentityProblem::UnsupportedSshKey(_)),
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
