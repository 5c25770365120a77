//! The few questions stsgrant asks git: which grant files changed since a commit, and which
//! commit the work tree is at. Asked through the `git` command, which every CI runner has.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A git command that failed.
#[derive(Debug, thiserror::Error)]
#[error("`git {args}` failed: {message}")]
pub struct GitError {
    args: String,
    message: String,
}

fn git(args: &[&str]) -> Result<String, GitError> {
    let error = |message: String| GitError {
        args: args.join(" "),
        message,
    };
    let output = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| error(e.to_string()))?;
    if !output.status.success() {
        return Err(error(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| error("the output is not UTF-8".to_owned()))
}

/// The files under `grants_dir` added, changed or renamed between `since` and the work tree.
pub fn changed_since(since: &str, grants_dir: &Path) -> Result<Vec<PathBuf>, GitError> {
    let dir = grants_dir.to_string_lossy();
    let output = git(&[
        "diff",
        "--name-only",
        "--no-renames",
        "--diff-filter=ACMR",
        since,
        "--",
        &dir,
    ])?;
    Ok(output
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect())
}

/// The commit `HEAD` points at, when in a git repository.
pub fn head() -> Option<String> {
    git(&["rev-parse", "HEAD"])
        .ok()
        .map(|s| s.trim().to_owned())
}
