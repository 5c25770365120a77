//! Writing a new grant file for a requester: the content `stsgrant new` puts on disk.
//!
//! The file is the YAML form of a [`Grant`], serialized by `yaml_serde` from the same type the
//! validator reads, under the `yaml-language-server` line that lets editors check it. Keys
//! that are recipients' private halves never pass through here: a new age identity is written
//! to its own file, readable by its owner only, and only its public key goes into the grant.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use crate::grant::Grant;

/// The text of a grant file, with the schema line for editors.
pub fn render(grant: &Grant) -> String {
    let yaml =
        yaml_serde::to_string(grant).expect("a grant of strings, numbers and lists serializes");
    format!("# yaml-language-server: $schema=../../../schemas/grant.schema.json\n{yaml}")
}

/// A new age identity: its public key, after writing the secret key to `path` with mode 0600.
/// An existing file is never replaced.
pub fn generate_identity(path: &Path) -> std::io::Result<String> {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    if let Some(folder) = path.parent() {
        fs::create_dir_all(folder)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let secret = age::secrecy::ExposeSecret::expose_secret(&identity.to_string()).to_owned();
    let secret = zeroize::Zeroizing::new(secret);
    let created = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
    write!(
        file,
        "# created: {created}\n# public key: {recipient}\n{}\n",
        secret.as_str()
    )?;
    file.sync_all()?;
    Ok(recipient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::GrantDuration;
    use crate::grant::{AccessKind, Requester};

    #[test]
    fn a_rendered_grant_reads_back_the_same() {
        let grant = Grant {
            project: "unity".into(),
            venue: "dev".into(),
            requester: Requester {
                name: "Eve Example".into(),
                email: "eve@example.org".into(),
                github: None,
            },
            recipients: vec![
                "age1696lrwjl3v22nzaqph2rvsqjll5jkv4r03mftnfurha5e9ze6v5srm3x9z".into(),
            ],
            access: vec![AccessKind::S3Read],
            s3_prefix: None,
            ecr_repositories: None,
            duration: GrantDuration::from_secs(3600),
            reason: "no: a reason that starts like a YAML 1.1 boolean".into(),
            not_after: "2027-01-31".into(),
            external_id: None,
            revision: 1,
            revoked: false,
        };
        let text = render(&grant);
        assert!(text.starts_with(
            "# yaml-language-server: $schema=../../../schemas/grant.schema.json\nproject: unity\n"
        ));
        let doc = crate::yaml::parse(&text).expect("strict reader accepts what is written");
        let back: Grant = serde::Deserialize::deserialize(&doc.value).expect("same shape");
        assert_eq!(back, grant);
    }

    #[test]
    fn a_new_identity_is_private_and_never_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("keys/identity.txt");
        let public = generate_identity(&path).expect("written");
        assert!(public.starts_with("age1"));
        let text = fs::read_to_string(&path).expect("readable");
        assert!(text.contains(&format!("# public key: {public}\nAGE-SECRET-KEY-1")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).expect("metadata").permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            generate_identity(&path).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::AlreadyExists)
        );
    }
}
