//! The world an end-to-end test runs the `stsgrant` binary in: a grants folder in a temporary
//! directory (a copy of the example grants, or the example catalog alone, with generated grants
//! when a test needs many) and a moto server of its own. `stsgrant` runs there with moto's
//! environment, a fixed day and no inherited `RUST_LOG`, talking to moto directly or through an
//! endpoint in front of it (a fault proxy). Also the small helpers the test files share.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::moto::MotoServer;

/// The day `stsgrant` checks grant dates against; the example grants are valid on it.
const TODAY: &str = "2026-12-03";

/// The ExternalId of the example venue `unity/dev`, as [`World::with_external_ids`] stores it.
pub const DEV_EXTERNAL_ID: &str = "unity-dev-demo-external-id";

/// The ExternalId of the example venue `unity/test`, as [`World::with_external_ids`] stores it.
pub const TEST_EXTERNAL_ID: &str = "unity-test-demo-external-id";

/// A grants folder in a temporary directory, and a moto server.
pub struct World {
    dir: tempfile::TempDir,
    pub moto: MotoServer,
}

impl World {
    /// A copy of the example grants folder: the catalog and its three grants.
    pub fn new() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_tree(
            &repository_root().join("grants"),
            &dir.path().join("grants"),
        );
        World::around(dir)
    }

    /// [`World::new`], with both example venues' ExternalIds in SSM.
    pub fn with_external_ids() -> World {
        let world = World::new();
        world.moto.put_parameter(
            "/unity/unity/dev/cs/sts/role/external-id",
            DEV_EXTERNAL_ID,
            true,
        );
        world.moto.put_parameter(
            "/unity/unity/test/cs/sts/role/external-id",
            TEST_EXTERNAL_ID,
            true,
        );
        world
    }

    /// The example catalog alone, without a grant; see [`World::add_user_grants`].
    pub fn catalog_only() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(dir.path().join("grants")).expect("folders");
        fs::copy(
            repository_root().join("grants/venues.yaml"),
            dir.path().join("grants/venues.yaml"),
        )
        .expect("catalog");
        World::around(dir)
    }

    fn around(dir: tempfile::TempDir) -> World {
        let moto = MotoServer::start();
        World { dir, moto }
    }

    /// Writes `count` grants into `unity/dev`, `user-0.yaml` onwards: the minimal valid fixture,
    /// each for a requester of its own.
    pub fn add_user_grants(&self, count: usize) {
        let folder = self.path("grants/unity/dev");
        fs::create_dir_all(&folder).expect("folders");
        let template =
            fs::read_to_string(repository_root().join("tests/fixtures/valid/minimal.yaml"))
                .expect("fixture");
        for i in 0..count {
            let grant = template
                .replace("Dana Example", &format!("User {i}"))
                .replace("dana@", &format!("user{i}@"));
            fs::write(folder.join(format!("user-{i}.yaml")), grant).expect("grant");
        }
    }

    /// The temporary directory `stsgrant` runs in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside [`World::root`].
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// `stsgrant` with these arguments, set up to run here against moto; add to it before running.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stsgrant"));
        self.moto.configure(&mut command);
        command
            .current_dir(self.dir.path())
            .env("STSGRANT_TODAY", TODAY)
            .env_remove("RUST_LOG")
            .args(args);
        command
    }

    /// [`World::command`], talking to AWS through `endpoint` (a proxy in front of moto) instead.
    pub fn command_through(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut command = self.command(args);
        command.env("AWS_ENDPOINT_URL", endpoint);
        command
    }

    /// Runs [`World::command`] to the end.
    pub fn stsgrant(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("stsgrant runs")
    }

    /// `stsgrant issue` into `out`, with records in `records/`, for commit `0123abc`.
    pub fn issue(&self, out: &str) -> Output {
        self.stsgrant(&[
            "issue",
            "--out",
            out,
            "--records",
            "file:records",
            "--commit",
            "0123abc",
        ])
    }

    /// Starts two `issue` runs at once with these extra arguments, each into its own output
    /// folder, and waits for both.
    pub fn issue_twice_at_once(&self, args: &[&str]) -> (Output, Output) {
        let spawn = |out: &str| {
            self.command(&["issue"])
                .args(args)
                .args(["--out", out])
                .stderr(Stdio::piped())
                .spawn()
                .expect("stsgrant starts")
        };
        let (a, b) = (spawn("out-a"), spawn("out-b"));
        (
            a.wait_with_output().expect("a ends"),
            b.wait_with_output().expect("b ends"),
        )
    }

    /// What `stsgrant plan` would do, given the records in `records/`, as JSON.
    pub fn plan(&self) -> serde_json::Value {
        let plan = self.stsgrant(&["plan", "--records", "file:records", "--format", "json"]);
        serde_json::from_slice(&plan.stdout).expect("plan JSON")
    }

    /// Every issuance record in `store` (`file:records`, `ssm:/…`), from `stsgrant audit`.
    pub fn audit_records(&self, store: &str) -> Vec<serde_json::Value> {
        let audit = self.stsgrant(&["audit", "--records", store, "--format", "json"]);
        serde_json::from_slice(&audit.stdout).expect("records JSON")
    }

    /// The form parameters of every `sts:AssumeRole` call moto recorded.
    pub fn assume_role_calls(&self) -> Vec<BTreeMap<String, String>> {
        self.moto.requests_for_action("AssumeRole")
    }
}

/// The checkout this crate is built from, holding `grants/`, `examples/` and `tests/fixtures/`.
pub fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a run printed on stderr, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file under `dir`, in any order; nothing when `dir` does not exist.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Copies the folder `from`, with everything in it, to `to`.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("folder");
    for entry in fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copied");
        }
    }
}
