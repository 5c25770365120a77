//! Sealed files on disk: written whole or not at all, with the manifest beside them.
//!
//! A reader of the output folder (the workflow that uploads it, a person, a re-run) must never
//! see half a file, so every file is written to a new temporary file in the same folder,
//! synced, and renamed over its name. A run killed mid-write leaves only a hidden temporary
//! file, which the next run removes.

use std::collections::HashSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use jiff::Timestamp;
use serde::Serialize;

use crate::issue::{GrantOutcome, Outcome};

/// Writes a file so that readers see the old content or the new, never a part: a new
/// temporary file in the same folder, synced, then renamed over the target.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let temporary = write_temporary(path, bytes, mode)?;
    let result = fs::rename(&temporary, path).and_then(|()| sync_folder(path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Creates a file with its whole content, only if no file has its name yet: `Ok(false)` when
/// one has. Written as [`write_atomically`] writes, then hard-linked into place, because a
/// link, unlike a rename, never replaces a file: another run, a reader or a run killed midway
/// sees no file or the whole file, and of two runs creating the same file one wins.
pub fn create_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<bool> {
    let temporary = write_temporary(path, bytes, mode)?;
    let linked = fs::hard_link(&temporary, path);
    // A temporary file that cannot be removed now is swept by the next run.
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => sync_folder(path).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to a new temporary file beside `path`, synced, named so that
/// [`sweep_temporary_files`] can tell a dead run's; removed again if writing fails.
fn write_temporary(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    let folder = path.parent().unwrap_or(Path::new("."));
    ensure_folder(folder)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let result = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match result {
        Ok(()) => Ok(temporary),
        Err(e) => {
            let _ = fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// Syncs the folder `path` is in, so that a new name in it survives a crash.
fn sync_folder(path: &Path) -> std::io::Result<()> {
    fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

/// Removes temporary files that a run killed mid-write left in `folder` and below: those of
/// a process that no longer exists, or older than `stale`. A live run's files are left alone.
pub fn sweep_temporary_files(folder: &Path, stale: std::time::Duration) -> usize {
    let mut removed = 0;
    let Ok(entries) = fs::read_dir(folder) else {
        return 0;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            removed += sweep_temporary_files(&path, stale);
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_suffix(".tmp").and_then(|n| n.rsplit('.').next()) else {
            continue;
        };
        if !name.starts_with('.') {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > stale));
        if (old || !process_alive(pid)) && fs::remove_file(&path).is_ok() {
            tracing::warn!(file = %path.display(), "removed a temporary file an interrupted run left");
            removed += 1;
        }
    }
    removed
}

/// Whether the process with this id still runs; where that cannot be told, it is assumed to.
fn process_alive(pid: &str) -> bool {
    if !cfg!(target_os = "linux") || pid.parse::<u32>().is_err() {
        return true;
    }
    Path::new("/proc").join(pid).exists()
}

/// Creates a folder and its parents, once per run: many grants share a venue's folder, and
/// asking the file system again for each of them costs more than the rest of the write.
pub fn ensure_folder(folder: &Path) -> std::io::Result<()> {
    static MADE: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let made = MADE.get_or_init(Mutex::default);
    if made
        .lock()
        .expect("no thread panics holding the folder list")
        .contains(folder)
    {
        return Ok(());
    }
    fs::create_dir_all(folder)?;
    made.lock()
        .expect("no thread panics holding the folder list")
        .insert(folder.to_owned());
    Ok(())
}

/// The manifest written beside the sealed files: which grant, session and expiry each file
/// holds, and its SHA-256, so the files can be attested and checked.
#[derive(Debug, Serialize)]
pub struct Manifest<'a> {
    /// The commit the run worked from.
    pub commit: Option<&'a str>,
    /// One entry per sealed file of this run.
    pub files: Vec<ManifestEntry<'a>>,
}

/// One sealed file in the manifest.
#[derive(Debug, Serialize)]
pub struct ManifestEntry<'a> {
    /// Project, venue and name.
    pub grant: &'a str,
    /// The sealed file, relative to the output folder.
    pub file: String,
    /// The session.
    pub session_name: &'a str,
    /// When the credential expires.
    pub expiration: Timestamp,
    /// SHA-256 of the sealed file, hex.
    pub sha256: &'a str,
}

/// Writes `manifest.json` into the output folder for the grants issued in this run.
pub fn write_manifest(
    out_dir: &Path,
    commit: Option<&str>,
    outcomes: &[GrantOutcome],
) -> std::io::Result<PathBuf> {
    let files = outcomes
        .iter()
        .filter_map(|o| match &o.outcome {
            Outcome::Issued {
                file,
                session_name,
                expiration,
                sha256,
            } => Some(ManifestEntry {
                grant: &o.grant,
                file: file
                    .strip_prefix(out_dir)
                    .unwrap_or(file)
                    .display()
                    .to_string(),
                session_name,
                expiration: *expiration,
                sha256,
            }),
            _ => None,
        })
        .collect();
    let manifest = Manifest { commit, files };
    let mut json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    json.push(b'\n');
    let path = out_dir.join("manifest.json");
    write_atomically(&path, &json, 0o644)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temporary_files_of_dead_runs_are_swept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let venue = dir.path().join("unity/dev");
        fs::create_dir_all(&venue).expect("folders");
        let dead = venue.join(".a.age.4294967295.tmp");
        let alive = venue.join(format!(".b.age.{}.tmp", std::process::id()));
        let sealed = venue.join("c.age");
        for file in [&dead, &alive, &sealed] {
            fs::write(file, b"x").expect("written");
        }
        let removed = sweep_temporary_files(dir.path(), std::time::Duration::from_secs(900));
        assert_eq!(removed, 1);
        assert!(!dead.exists());
        assert!(alive.exists() && sealed.exists());
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file_and_sets_the_mode() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/b.age");
        write_atomically(&path, b"one", 0o600).expect("written");
        write_atomically(&path, b"two", 0o600).expect("replaced");
        assert_eq!(fs::read(&path).expect("readable"), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().expect("has a folder"))
            .expect("listable")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec!["b.age"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn atomic_create_never_replaces_a_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("records/attempt-1.json");
        assert!(create_atomically(&path, b"first", 0o644).expect("created"));
        assert!(!create_atomically(&path, b"second", 0o644).expect("refused"));
        assert_eq!(fs::read(&path).expect("readable"), b"first");
        let names: Vec<_> = fs::read_dir(path.parent().expect("has a folder"))
            .expect("listable")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec!["attempt-1.json"]);
    }
}
