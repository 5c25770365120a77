//! Writing a credential into a profile of the AWS shared credentials file.
//!
//! `~/.aws/credentials` is the user's file, often with long-lived keys and hand-written
//! comments in it. So the edit is surgical: only the three key lines of the one profile change,
//! every other byte stays as it was, a file that cannot be understood is left alone, and the new
//! version replaces the old one atomically with the same mode.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::ini;
use crate::credential::Credential;

/// The keys that a profile's credential consists of; the profile's other keys stay.
const REPLACED_KEYS: [&str; 3] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// Why the credentials file was not written. In every case it is left unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The profile name has characters that the file format or the AWS CLI would misread.
    #[error("profile name `{name}` is not valid")]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// A value would break the file's line structure.
    #[error("credential field `{field}` contains a line break")]
    BadValue {
        /// The field's name in the file.
        field: &'static str,
    },
    /// The file is not text.
    #[error("`{path}` is not UTF-8 text")]
    NotUtf8 {
        /// The credentials file.
        path: PathBuf,
    },
    /// A line is neither a section, a key, a continuation, a comment nor blank.
    #[error("`{path}` line {line} is not an INI section, `key = value` line or comment")]
    Malformed {
        /// The credentials file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// The profile's section appears more than once.
    #[error("`{path}` has section `[{profile}]` twice, on lines {first} and {second}")]
    DuplicateSection {
        /// The credentials file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// 1-based line of the first header.
        first: usize,
        /// 1-based line of the second header.
        second: usize,
    },
    /// The file or its folder is read-only.
    #[error("`{path}` is read-only")]
    ReadOnly {
        /// The read-only file or folder.
        path: PathBuf,
    },
    /// Reading or writing failed.
    #[error("cannot {action} `{path}`")]
    Io {
        /// What was being done, such as `read` or `replace`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ProfileError {
    /// What the user can do about the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::InvalidName { .. } => Some("use letters, digits, `_`, `.` and `-`"),
            Self::NotUtf8 { .. } | Self::Malformed { .. } | Self::DuplicateSection { .. } => {
                Some("fix the file by hand, or write the profile to another file")
            }
            Self::ReadOnly { .. } => {
                Some("make it writable, or print the credential in another format")
            }
            Self::BadValue { .. } | Self::Io { .. } => None,
        }
    }
}

/// Adds the profile `[profile]` to the credentials file at `path`, or replaces the credential in
/// it, keeping every other line. A missing file is created with mode `0600`, a missing folder
/// with `0700`; an existing file keeps its mode. A symbolic link is followed. On any error the
/// file is left as it was.
pub fn write_profile(
    path: &Path,
    profile: &str,
    credential: &Credential,
) -> Result<(), ProfileError> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if profile.is_empty() || !profile.chars().all(valid) {
        return Err(ProfileError::InvalidName {
            name: profile.to_owned(),
        });
    }
    let values = [
        credential.access_key_id.as_str(),
        credential.secret_access_key.expose(),
        credential.session_token.expose(),
    ];
    if let Some(index) = values.iter().position(|value| value.contains(['\n', '\r'])) {
        return Err(ProfileError::BadValue {
            field: REPLACED_KEYS[index],
        });
    }

    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let (old, mode) = match fs::metadata(&path) {
        Ok(metadata) if metadata.permissions().readonly() => {
            return Err(ProfileError::ReadOnly { path });
        }
        Ok(metadata) => (
            Zeroizing::new(fs::read(&path).map_err(io("read", &path))?),
            mode(&metadata),
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            (Zeroizing::new(Vec::new()), 0o600)
        }
        Err(error) => return Err(io("read", &path)(error)),
    };
    let old =
        std::str::from_utf8(&old).map_err(|_| ProfileError::NotUtf8 { path: path.clone() })?;
    let new =
        ini::set_keys(old, profile, &REPLACED_KEYS, &values).map_err(|error| match error {
            ini::IniError::Malformed { line } => ProfileError::Malformed {
                path: path.clone(),
                line,
            },
            ini::IniError::DuplicateSection { first, second } => ProfileError::DuplicateSection {
                path: path.clone(),
                profile: profile.to_owned(),
                first,
                second,
            },
        })?;

    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    create_dir(&dir).map_err(io("create", &dir))?;
    if fs::metadata(&dir)
        .map_err(io("read", &dir))?
        .permissions()
        .readonly()
    {
        return Err(ProfileError::ReadOnly { path: dir });
    }
    replace(&path, &dir, new.as_bytes(), mode)
}

/// Builds the error for a failed `action` on `path`, for `map_err`.
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProfileError {
    let path = path.to_owned();
    move |source| ProfileError::Io {
        action,
        path,
        source,
    }
}

#[cfg(unix)]
fn mode(metadata: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(_: &fs::Metadata) -> u32 {
    0o600
}

/// Creates a missing folder, and missing folders above it, readable by the owner only.
fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes a temporary file beside `path`, flushes it to disk and renames it over `path`, so
/// that readers see the old file or the new one and never a part.
fn replace(path: &Path, dir: &Path, content: &[u8], mode: u32) -> Result<(), ProfileError> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let temp = dir.join(format!(
        ".{name}.stsgrant-{}-{nanos}.tmp",
        std::process::id()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);

    let mut file = options.open(&temp).map_err(|error| match error.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            ProfileError::ReadOnly {
                path: dir.to_owned(),
            }
        }
        _ => io("create", &temp)(error),
    })?;
    let written = (|| {
        file.write_all(content)?;
        // The umask may have narrowed the mode at creation; set the exact one.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        file.sync_all()
    })();
    drop(file);
    if let Err(error) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(io("replace", path)(error));
    }

    // Make the rename itself durable; the file is already in place, so only note a failure.
    if let Err(error) = fs::File::open(dir).and_then(|dir| dir.sync_all()) {
        tracing::debug!(dir = %dir.display(), %error, "could not flush the folder after the rename");
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::secret::SecretString;

    fn credential() -> Credential {
        Credential::example()
    }

    const NEW_KEYS: &str = concat!(
        "aws_access_key_id = ASIAEXAMPLE123456789\n",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\n",
        "aws_session_token = FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/=\n",
    );

    /// Writes `before` (if any) as the credentials file, adds the profile, returns the result.
    fn write(
        before: Option<&str>,
        profile: &str,
    ) -> (tempfile::TempDir, PathBuf, Result<(), ProfileError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credentials");
        if let Some(before) = before {
            fs::write(&path, before).expect("write");
        }
        let result = write_profile(&path, profile, &credential());
        (dir, path, result)
    }

    fn after(before: Option<&str>, profile: &str) -> String {
        let (_dir, path, result) = write(before, profile);
        result.expect("writes");
        fs::read_to_string(path).expect("read")
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
    }

    #[test]
    fn creates_a_missing_file_and_folder_privately() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("home/.aws/credentials");
        write_profile(&path, "grant", &credential()).expect("writes");
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            format!("[grant]\n{NEW_KEYS}")
        );
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(path.parent().expect("has a parent")), 0o700);
    }

    #[test]
    fn replaces_the_profile_and_keeps_the_rest() {
        let before = "# keep\n[default]\naws_access_key_id = AKIAOLD\n\n[grant]\nregion = x\n\
            aws_access_key_id = ASIAOLD\naws_secret_access_key = old\naws_session_token = old\n";
        let expected = format!(
            "# keep\n[default]\naws_access_key_id = AKIAOLD\n\n[grant]\nregion = x\n{NEW_KEYS}"
        );
        assert_eq!(after(Some(before), "grant"), expected);
        let expected = format!("{before}\n[other]\n{NEW_KEYS}");
        assert_eq!(after(Some(before), "other"), expected);
    }

    #[test]
    fn keeps_the_mode_of_an_existing_file() {
        let (_dir, path, _) = write(Some("[default]\n"), "grant");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        write_profile(&path, "grant", &credential()).expect("writes");
        assert_eq!(mode_of(&path), 0o640);
    }

    #[test]
    fn follows_a_symbolic_link() {
        let (dir, real, _) = write(Some("[default]\n"), "grant");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write_profile(&link, "other", &credential()).expect("writes");
        assert!(
            fs::symlink_metadata(&link)
                .expect("metadata")
                .file_type()
                .is_symlink()
        );
        assert!(fs::read_to_string(&real).expect("read").contains("[other]"));
    }

    /// Asserts the file is byte-for-byte unchanged and no temporary file was left.
    fn assert_unchanged(dir: &Path, path: &Path, before: &str) {
        assert_eq!(fs::read_to_string(path).expect("read"), before);
        assert_eq!(
            fs::read_dir(dir).expect("list").count(),
            1,
            "a temporary file was left"
        );
    }

    #[test]
    fn unreadable_files_are_left_unchanged() {
        for before in [
            "[default]\nthis is not ini\n",
            "[grant]\n[default]\n[grant]\n",
        ] {
            let (dir, path, result) = write(Some(before), "grant");
            match result.expect_err("must be refused") {
                ProfileError::Malformed { line: 2, .. } => {}
                ProfileError::DuplicateSection {
                    first: 1,
                    second: 3,
                    ..
                } => {}
                other => panic!("unexpected error: {other}"),
            }
            assert_unchanged(dir.path(), &path, before);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credentials");
        fs::write(&path, [0xff, 0xfe]).expect("write");
        let error = write_profile(&path, "grant", &credential()).expect_err("not text");
        assert!(matches!(error, ProfileError::NotUtf8 { .. }));
    }

    #[test]
    fn read_only_file_or_folder_is_left_unchanged() {
        let before = "[default]\nx = 1\n";
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credentials");
        fs::write(&path, before).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
        let error = write_profile(&path, "grant", &credential()).expect_err("read-only file");
        assert!(
            matches!(&error, ProfileError::ReadOnly { path: p } if *p == path),
            "{error}"
        );
        assert_unchanged(dir.path(), &path, before);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).expect("chmod");
        let error = write_profile(&path, "grant", &credential()).expect_err("read-only folder");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod back");
        assert!(
            matches!(&error, ProfileError::ReadOnly { path: p } if p == dir.path()),
            "{error}"
        );
        assert_unchanged(dir.path(), &path, before);
    }

    #[test]
    fn bad_profile_names_and_values_are_refused() {
        for name in ["", "my profile", "a]b", "de\nfault", "prof[1]", "ü"] {
            let (dir, _, result) = write(None, name);
            assert!(
                matches!(result, Err(ProfileError::InvalidName { .. })),
                "{name:?}"
            );
            assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
        }
        let mut credential = credential();
        credential.session_token = SecretString::from("a\n[default]");
        let dir = tempfile::tempdir().expect("tempdir");
        let error =
            write_profile(&dir.path().join("c"), "grant", &credential).expect_err("refused");
        assert!(matches!(
            error,
            ProfileError::BadValue {
                field: "aws_session_token"
            }
        ));
        let ok = ["default", "alice-20261203", "team_a.prod"];
        assert!(ok.iter().all(|name| write(None, name).2.is_ok()));
    }
}
