//! Sealing a credential to its recipients with age, and opening it again.
//!
//! This is the only module that hands plaintext to age. Sealed outputs are ASCII-armored so
//! that they survive being pasted into chat, e-mail or a CI log, and any age implementation
//! (`age -d`, `rage -d`) opens them. Opening tells the recipient's likely situations apart:
//! not an age file at all, sealed to another key, cut short in transit, or changed.

mod identity;
mod recipient;
#[cfg(test)]
mod testkit;
mod unlock;

use std::io::{self, Read, Write};

use age::armor::ArmoredReadError;
use zeroize::Zeroizing;

pub use identity::{Identities, IdentityError, IdentityProblem, read_identities};
pub use recipient::{Recipient, RecipientError};
pub use unlock::PassphraseSource;

const ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END: &[u8] = b"-----END AGE ENCRYPTED FILE-----";
const BINARY_MAGIC: &[u8] = b"age-encryption.org/";
const V1_LINE: &[u8; 22] = b"age-encryption.org/v1\n";

/// Why sealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// There was no recipient to seal to.
    #[error("no recipient to seal to")]
    NoRecipients,
    /// age refused to encrypt.
    #[error("age could not encrypt: {0}")]
    Age(#[from] age::EncryptError),
}

impl SealError {
    /// What the user can do about the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::NoRecipients => Some("name at least one recipient public key in the grant"),
            Self::Age(_) => None,
        }
    }
}

/// Why a sealed output could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// The input is not an age file.
    #[error("input is not an age encrypted file")]
    NotAgeFile,
    /// The input is an age file of a version this build does not know.
    #[error("input is an age file of an unknown version")]
    UnknownVersion,
    /// The file is encrypted with a passphrase rather than to a key.
    #[error("input is encrypted with a passphrase, not to a key")]
    PassphraseEncrypted,
    /// None of the identities is a recipient of the file.
    #[error("input was sealed to other keys than the identities given")]
    NoMatchingIdentity,
    /// The file ends early.
    #[error("input is cut short")]
    Truncated,
    /// The ASCII armor around the file is malformed, typically re-wrapped by a mail program.
    #[error("armor of the input is damaged: {reason}")]
    BadArmor {
        /// What is wrong with the armor, as age says it.
        reason: String,
    },
    /// The file fails authentication: it was changed after sealing, or cut inside its last part.
    #[error("input failed authentication: it was changed or damaged after sealing")]
    Tampered,
    /// Anything else age reports; its message names no plaintext.
    #[error("age could not decrypt: {0}")]
    Age(String),
}

impl OpenError {
    /// What the user can do about the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::NotAgeFile => {
                Some("give the sealed output, which starts `-----BEGIN AGE ENCRYPTED FILE-----`")
            }
            Self::UnknownVersion => Some("decrypt it with a recent `age -d`"),
            Self::PassphraseEncrypted => Some("decrypt it with `age -d`, which asks for it"),
            Self::NoMatchingIdentity => Some(
                "give the secret key that belongs to the recipient named in the grant; \
                 `stsgrant` can only open outputs sealed to your key",
            ),
            Self::Truncated | Self::Tampered | Self::BadArmor { .. } => Some(
                "copy the whole sealed output again, from the BEGIN to the END line, without \
                 re-wrapping its lines",
            ),
            Self::Age(_) => None,
        }
    }
}

/// Encrypts `plaintext` to every recipient (each can open it alone), ASCII-armored.
///
/// Recipients named twice are sealed to once.
pub fn seal(plaintext: &[u8], recipients: &[Recipient]) -> Result<Vec<u8>, SealError> {
    let mut unique: Vec<&Recipient> = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        if !unique.contains(&recipient) {
            unique.push(recipient);
        }
    }
    let encryptor =
        age::Encryptor::with_recipients(unique.iter().map(|recipient| recipient.as_age()))
            .map_err(|error| match error {
                age::EncryptError::MissingRecipients => SealError::NoRecipients,
                other => SealError::Age(other),
            })?;

    let mut sealed = Vec::with_capacity(plaintext.len() * 4 / 3 + 1024);
    let armor = age::armor::ArmoredWriter::wrap_output(&mut sealed, age::armor::Format::AsciiArmor)
        .map_err(age::EncryptError::Io)?;
    let mut writer = encryptor
        .wrap_output(armor)
        .map_err(age::EncryptError::Io)?;
    writer.write_all(plaintext).map_err(age::EncryptError::Io)?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(age::EncryptError::Io)?;
    Ok(sealed)
}

/// Decrypts an armored or binary age file with the first identity that is one of its
/// recipients.
pub fn open(ciphertext: &[u8], identities: &Identities) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    // age reports text that is no age file as a header cut short, and armor without its end
    // line as a bad line wrap; both are told apart here first.
    let start = ciphertext
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(0);
    let trimmed = &ciphertext[start..];
    if trimmed.starts_with(ARMOR_BEGIN) {
        if !trimmed
            .windows(ARMOR_END.len())
            .any(|window| window == ARMOR_END)
        {
            return Err(OpenError::Truncated);
        }
    } else if !ciphertext.starts_with(BINARY_MAGIC) {
        return Err(OpenError::NotAgeFile);
    }

    let reader = age::armor::ArmoredReader::new(trimmed);
    let decryptor = age::Decryptor::new_buffered(reader).map_err(|error| match error {
        // age falls back to "unknown version" for any v1 header it cannot parse.
        age::DecryptError::UnknownFormat if starts_as_v1(trimmed) => OpenError::Tampered,
        other => from_age(other),
    })?;
    if decryptor.is_scrypt() {
        return Err(OpenError::PassphraseEncrypted);
    }
    let mut stream = decryptor.decrypt(identities.as_age()).map_err(from_age)?;

    // The plaintext is shorter than the ciphertext, so this buffer never grows and leaves no
    // copy behind.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    stream.read_to_end(&mut plaintext).map_err(from_io)?;
    Ok(plaintext)
}

/// Compares a prefix without regard to ASCII case, and without making a copy of `text`, which
/// may be a secret key pasted in the wrong place.
fn starts_with_any_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Whether the (possibly armored) file's first line is `age-encryption.org/v1`.
fn starts_as_v1(input: &[u8]) -> bool {
    let mut first_line = [0; V1_LINE.len()];
    age::armor::ArmoredReader::new(input)
        .read_exact(&mut first_line)
        .is_ok()
        && first_line == *V1_LINE
}

fn from_age(error: age::DecryptError) -> OpenError {
    match error {
        // `open` has seen the age magic already, so a header age cannot parse was damaged.
        age::DecryptError::InvalidHeader
        | age::DecryptError::InvalidMac
        | age::DecryptError::DecryptionFailed => OpenError::Tampered,
        age::DecryptError::UnknownFormat => OpenError::UnknownVersion,
        age::DecryptError::NoMatchingKeys => OpenError::NoMatchingIdentity,
        age::DecryptError::Io(error) => from_io(error),
        other => OpenError::Age(other.to_string()),
    }
}

fn from_io(error: io::Error) -> OpenError {
    let armor = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ArmoredReadError>());
    if let Some(armor) = armor {
        return OpenError::BadArmor {
            reason: armor.to_string(),
        };
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => OpenError::Truncated,
        io::ErrorKind::InvalidData => OpenError::Tampered,
        _ => OpenError::Age(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::testkit::{age_key, passphrase_encrypt, run, ssh_key};
    use super::*;

    const PLAINTEXT: &[u8] = b"{\"Credentials\": {\"SecretAccessKey\": \"wJalrXUtnFEMI\"}}\n";

    fn identities(path: &Path) -> Identities {
        read_identities(path, None).expect("test identity loads")
    }

    /// Opens `sealed` with the identity file at `key`.
    fn opened(sealed: &[u8], key: &Path) -> Vec<u8> {
        open(sealed, &identities(key)).expect("opens").to_vec()
    }

    fn path_text(path: &Path) -> &str {
        path.to_str().expect("temporary paths are UTF-8")
    }

    #[test]
    fn round_trip_x25519() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, recipient) = age_key(dir.path(), "key.txt");
        let sealed = seal(PLAINTEXT, &[recipient]).expect("seals");
        let text = String::from_utf8(sealed.clone()).expect("armor is text");
        assert!(
            text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
            "{text}"
        );
        assert!(
            text.ends_with("-----END AGE ENCRYPTED FILE-----\n"),
            "{text}"
        );
        assert!(!text.contains("wJalr"));
        assert_eq!(opened(&sealed, &key), PLAINTEXT);
    }

    #[test]
    fn round_trip_ssh_ed25519_and_rsa() {
        let dir = tempfile::tempdir().expect("tempdir");
        for kind in ["ed25519", "rsa"] {
            let (key, public) = ssh_key(dir.path(), kind, kind, "");
            let recipient: Recipient = public.parse().expect("ssh-keygen writes a valid key");
            let sealed = seal(PLAINTEXT, &[recipient]).expect("seals");
            assert_eq!(opened(&sealed, &key), PLAINTEXT);
        }
    }

    #[test]
    fn each_of_several_recipients_opens_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (age_path, age_recipient) = age_key(dir.path(), "key.txt");
        let (ed_path, ed_public) = ssh_key(dir.path(), "id_ed25519", "ed25519", "");
        let (rsa_path, rsa_public) = ssh_key(dir.path(), "id_rsa", "rsa", "");
        let recipients = [
            age_recipient.clone(),
            ed_public.parse().expect("valid"),
            rsa_public.parse().expect("valid"),
            age_recipient,
        ];
        let sealed = seal(PLAINTEXT, &recipients).expect("seals");
        let text = String::from_utf8_lossy(&sealed).into_owned();
        for key in [&age_path, &ed_path, &rsa_path] {
            assert_eq!(opened(&sealed, key), PLAINTEXT);
            let by_age = run("age", &["-d", "-i", path_text(key)], Some(text.as_bytes()));
            assert_eq!(by_age.stdout, PLAINTEXT);
        }
    }

    #[test]
    fn sealing_to_nobody_is_refused() {
        assert!(matches!(seal(PLAINTEXT, &[]), Err(SealError::NoRecipients)));
    }

    #[test]
    fn age_command_opens_what_the_crate_sealed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (age_path, recipient) = age_key(dir.path(), "key.txt");
        let (ssh_path, public) = ssh_key(dir.path(), "id_ed25519", "ed25519", "");
        for (key, recipient) in [
            (age_path, recipient),
            (ssh_path, public.parse().expect("ok")),
        ] {
            let sealed_path = dir.path().join("credential.json.age");
            std::fs::write(&sealed_path, seal(PLAINTEXT, &[recipient]).expect("seals"))
                .expect("write sealed output");
            let output = run(
                "age",
                &["-d", "-i", path_text(&key), path_text(&sealed_path)],
                None,
            );
            assert_eq!(output.stdout, PLAINTEXT);
        }
    }

    #[test]
    fn crate_opens_what_the_age_command_sealed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (age_path, recipient) = age_key(dir.path(), "key.txt");
        let (ssh_path, public) = ssh_key(dir.path(), "id_ed25519", "ed25519", "");
        let recipient = recipient.to_string();
        let public = public.trim();
        for (key, args) in [
            (&age_path, vec!["-r", &recipient, "-a"]),
            (&age_path, vec!["-r", &recipient]),
            (&ssh_path, vec!["-r", public, "-a"]),
        ] {
            let sealed = run("age", &args, Some(PLAINTEXT)).stdout;
            assert_eq!(opened(&sealed, key), PLAINTEXT, "{args:?}");
        }
    }

    /// A sealed output in binary and in armored form, and the identity that opens it.
    fn sample(dir: &Path) -> (Vec<u8>, String, Identities) {
        let (key, recipient) = age_key(dir, "key.txt");
        let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient.as_age()))
            .expect("one recipient");
        let mut binary = Vec::new();
        let mut writer = encryptor.wrap_output(&mut binary).expect("in memory");
        writer.write_all(PLAINTEXT).expect("in memory");
        writer.finish().expect("in memory");
        let armored = String::from_utf8(seal(PLAINTEXT, &[recipient]).expect("seals"))
            .expect("armor is text");
        (binary, armored, identities(&key))
    }

    #[test]
    fn open_accepts_surrounding_whitespace_and_crlf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, armored, ids) = sample(dir.path());
        let padded = format!("\n  \n{}\n\n", armored.replace('\n', "\r\n"));
        assert_eq!(&*open(padded.as_bytes(), &ids).expect("opens"), PLAINTEXT);
    }

    #[test]
    fn open_tells_what_is_wrong_with_the_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (binary, armored, ids) = sample(dir.path());
        let (other, _) = age_key(dir.path(), "other.txt");
        let err = |input: &[u8]| open(input, &ids).expect_err("must be refused");

        for not_age in [
            &b""[..],
            b"hello\n",
            PLAINTEXT,
            b"-----BEGIN PGP MESSAGE-----\n",
        ] {
            assert_eq!(err(not_age), OpenError::NotAgeFile);
        }
        let other = open(armored.as_bytes(), &identities(&other)).expect_err("other key");
        assert_eq!(other, OpenError::NoMatchingIdentity);

        let without_end = &armored[..armored.len() - 40];
        assert_eq!(err(without_end.as_bytes()), OpenError::Truncated);
        let header_end = binary
            .windows(4)
            .position(|w| w == b"--- ")
            .expect("has a MAC line");
        assert_eq!(err(&binary[..header_end]), OpenError::Truncated);
        // The MAC line is 48 bytes and the payload nonce 16: cut inside the nonce, then after it.
        assert_eq!(err(&binary[..header_end + 56]), OpenError::Truncated);
        assert_eq!(err(&binary[..header_end + 64]), OpenError::Truncated);

        let mut changed = binary.clone();
        let last = changed.len() - 20;
        changed[last] ^= 1;
        assert_eq!(err(&changed), OpenError::Tampered);
        let mut changed = binary.clone();
        changed[header_end + 6] ^= 1;
        assert_eq!(err(&changed), OpenError::Tampered);
        let stanza = binary
            .windows(9)
            .position(|w| w == b"-> X25519")
            .expect("has a stanza");
        let mut changed = binary.clone();
        changed[stanza + 12] = b'!';
        assert_eq!(err(&changed), OpenError::Tampered);
        // A cut inside the last chunk cannot be told from a change: both fail authentication.
        assert_eq!(err(&binary[..binary.len() - 10]), OpenError::Tampered);

        let lines: Vec<&str> = armored.lines().collect();
        let (first, body, end) = (lines[0], &lines[1..lines.len() - 1], lines[lines.len() - 1]);
        let rewrapped = format!("{first}\n{}\n{end}\n", body.concat());
        assert!(matches!(
            err(rewrapped.as_bytes()),
            OpenError::BadArmor { .. }
        ));

        let newer = String::from_utf8_lossy(&binary).replacen("org/v1", "org/v2", 1);
        let newer = [&newer.as_bytes()[..header_end], &binary[header_end..]].concat();
        assert_eq!(err(&newer), OpenError::UnknownVersion);
    }

    #[test]
    fn every_changed_byte_after_the_version_line_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (binary, _, ids) = sample(dir.path());
        for index in V1_LINE.len()..binary.len() {
            let mut changed = binary.clone();
            changed[index] ^= 0x01;
            match open(&changed, &ids) {
                Err(OpenError::Tampered | OpenError::NoMatchingIdentity) => {}
                other => panic!("byte {index}: {other:?}"),
            }
        }
    }

    #[test]
    fn open_refuses_passphrase_encrypted_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, _, ids) = sample(dir.path());
        let err = |input: &[u8]| open(input, &ids).expect_err("must be refused");
        let sealed = passphrase_encrypt(PLAINTEXT, "correct horse");
        assert_eq!(err(&sealed), OpenError::PassphraseEncrypted);
    }
}
