//! Opening secret keys that are protected by a passphrase.
//!
//! An OpenSSH key made with `ssh-keygen -N …` and an age identity file encrypted with `age -p`
//! both need a passphrase. Only the command line knows whether someone can be asked (a terminal
//! is attached), so the passphrase comes from a callback, called at most once per key; a wrong
//! passphrase is reported, not retried, and the caller decides whether to ask again.

use std::io::Read;

use age::secrecy::SecretString as AgeSecret;
use zeroize::Zeroizing;

use super::identity::{IdentityProblem, Key};
use crate::secret::SecretString;

/// Asks for the passphrase of an identity file, or answers `None` when nobody can be asked.
pub type PassphraseSource<'a> = &'a dyn Fn() -> Option<SecretString>;

/// Decrypts an OpenSSH private key.
pub(super) fn ssh_key(
    key: &age::ssh::EncryptedKey,
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Key, IdentityProblem> {
    let key = key
        .decrypt(ask(passphrase)?)
        .map_err(|_| IdentityProblem::WrongPassphrase)?;
    Ok(Key::Ssh(age::ssh::Identity::Unencrypted(key)))
}

/// Decrypts an identity file that was encrypted with `age -p`, armored or not.
pub(super) fn identity_file(
    content: &[u8],
    passphrase: Option<PassphraseSource<'_>>,
) -> Result<Zeroizing<Vec<u8>>, IdentityProblem> {
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(content))
        .map_err(|_| IdentityProblem::Unrecognized(1))?;
    if !decryptor.is_scrypt() {
        return Err(IdentityProblem::Unrecognized(1));
    }
    let identity = age::scrypt::Identity::new(ask(passphrase)?);
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as _))
        .map_err(|_| IdentityProblem::WrongPassphrase)?;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(content.len()));
    reader
        .read_to_end(&mut plaintext)
        .map_err(|_| IdentityProblem::WrongPassphrase)?;
    Ok(plaintext)
}

fn ask(passphrase: Option<PassphraseSource<'_>>) -> Result<AgeSecret, IdentityProblem> {
    let secret = passphrase
        .and_then(|ask| ask())
        .ok_or(IdentityProblem::PassphraseRequired)?;
    Ok(AgeSecret::from(secret.expose().clone()))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use super::super::testkit::{age_key, passphrase_encrypt, ssh_key};
    use super::super::{IdentityProblem, open, read_identities, seal};
    use super::*;

    fn asks(answer: Option<&'static str>, calls: &Cell<u32>) -> impl Fn() -> Option<SecretString> {
        move || {
            calls.set(calls.get() + 1);
            answer.map(SecretString::from)
        }
    }

    fn check_passphrase_handling(path: &Path) {
        let calls = Cell::new(0);
        let error = read_identities(path, None)
            .err()
            .expect("needs a passphrase");
        assert!(matches!(error.problem, IdentityProblem::PassphraseRequired));
        let message = format!("identity `{}` is protected by a passphrase", path.display());
        assert_eq!(error.to_string(), message);
        assert!(error.hint().expect("has a hint").contains("age -d -i"));
        let error = read_identities(path, Some(&asks(None, &calls)))
            .err()
            .expect("no answer");
        assert!(matches!(error.problem, IdentityProblem::PassphraseRequired));
        let error = read_identities(path, Some(&asks(Some("wrong"), &calls))).err();
        assert!(matches!(
            error.map(|e| e.problem),
            Some(IdentityProblem::WrongPassphrase)
        ));
        let identities = read_identities(path, Some(&asks(Some("s3cret pass"), &calls)))
            .expect("right passphrase");
        let sealed = seal(b"plaintext", &identities.recipients()).expect("seals");
        assert_eq!(&*open(&sealed, &identities).expect("opens"), b"plaintext");
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
}
