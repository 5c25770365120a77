"""Shared parts of `scripts/bench-validate` and `scripts/bench-issue`.

- `write_corpus` writes a repository-shaped `grants/` folder: a venue catalog and many
  small valid grants, in the format of `grants/unity/dev/alice-upload.yaml`.
- `measure` runs one command and returns its wall time (from `time.perf_counter`) and the
  CPU time and peak resident memory the kernel accounted to it (`os.wait4`, the same
  numbers `/usr/bin/time` prints).
- `ensure_command` installs a missing tool with pip or apt-get.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
REGION = "us-west-2"
ALL_ACCESS = ["s3-read", "s3-write", "ecr-create", "ecr-push", "ecr-pull"]
ROLE_NAME = "unity-{project}-{venue}-sts"
EXTERNAL_ID_PARAMETER = "/unity/{project}/{venue}/cs/sts/role/external-id"
IDENTITY_FILE = REPO / "examples" / "identities" / "alice.txt"


def example_recipient() -> str:
    """The age public key of the example identity (`# public key: age1…`)."""
    for line in IDENTITY_FILE.read_text().splitlines():
        if line.startswith("# public key: "):
            return line.removeprefix("# public key: ").strip()
    raise SystemExit(f"no public key line in {IDENTITY_FILE}")


@dataclasses.dataclass(frozen=True)
class Venue:
    project: str
    venue: str

    @property
    def role_arn(self) -> str:
        name = ROLE_NAME.format(project=self.project, venue=self.venue)
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"

    @property
    def parameter(self) -> str:
        return EXTERNAL_ID_PARAMETER.format(project=self.project, venue=self.venue)


@dataclasses.dataclass(frozen=True)
class Grant:
    venue: Venue
    name: str  # file stem, e.g. user-0042; also the GitHub login
    path: Path  # relative to the corpus root: grants/<project>/<venue>/<name>.yaml
    recipient: str

    def session_name(self, today: datetime.date) -> str:
        return f"{self.name}-{today:%Y%m%d}"


def venues(count: int) -> list[Venue]:
    """Venues p00/v0, p00/v1, …, p00/v9, p01/v0, …: ten venues per project."""
    return [Venue(f"p{i // 10:02d}", f"v{i % 10}") for i in range(count)]


def write_corpus(
    root: Path, venue_list: list[Venue], grant_count: int, today: datetime.date
) -> list[Grant]:
    """Writes `root/grants/venues.yaml` and `grant_count` grants spread round-robin over
    the venues; returns the grants in order."""
    grants_dir = root / "grants"
    grants_dir.mkdir(parents=True)
    catalog = [
        "defaults:",
        f"  role_name: {ROLE_NAME}",
        f"  external_id_parameter: {EXTERNAL_ID_PARAMETER}",
        "venues:",
    ]
    for v in venue_list:
        catalog += [
            f"  - project: {v.project}",
            f"    venue: {v.venue}",
            f'    account_id: "{ACCOUNT_ID}"',
            f"    region: {REGION}",
            f"    bucket: bucket-{v.project}-{v.venue}",
            "    max_duration: 12h",
            "    max_grant_days: 366",
            f"    allowed_access: [{', '.join(ALL_ACCESS)}]",
            '    approvers: ["@org/admins"]',
        ]
        (grants_dir / v.project / v.venue).mkdir(parents=True, exist_ok=True)
    (grants_dir / "venues.yaml").write_text("\n".join(catalog) + "\n")

    recipient = example_recipient()
    not_after = today + datetime.timedelta(days=60)
    width = max(4, len(str(grant_count - 1)))
    grants = []
    for i in range(grant_count):
        v = venue_list[i % len(venue_list)]
        name = f"user-{i:0{width}d}"
        path = Path("grants") / v.project / v.venue / f"{name}.yaml"
        (root / path).write_text(
            f"project: {v.project}\n"
            f"venue: {v.venue}\n"
            "requester:\n"
            f"  name: User {i:0{width}d}\n"
            f"  email: {name}@example.org\n"
            f"  github: {name}\n"
            "recipients:\n"
            f"  - {recipient}\n"
            "access: [s3-read, s3-write]\n"
            f"s3_prefix: incoming/{name}/\n"
            "duration: 1h\n"
            f"reason: Benchmark grant {i} for {v.project}/{v.venue}\n"
            f"not_after: {not_after.isoformat()}\n"
        )
        grants.append(Grant(v, name, path, recipient))
    return grants


@dataclasses.dataclass
class Measured:
    returncode: int
    wall: float  # seconds
    user: float  # CPU seconds in user mode, the process and its reaped children
    sys: float  # CPU seconds in the kernel
    peak_rss_mb: float  # peak resident set size of the largest process, MB (10^6 bytes)
    log: Path  # stdout and stderr of the command

    @property
    def cpu(self) -> float:
        return self.user + self.sys

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace").rstrip("\n").splitlines()
        return "\n".join("    " + line for line in text[-lines:])


def measure(
    cmd: list[str], log: Path, *, cwd: Path | None = None, env: dict | None = None
) -> Measured:
    """Runs `cmd` with stdout and stderr to `log` and measures it.

    The peak RSS comes from GNU time, which starts `cmd` from a small process of its own. A
    process started from this one would carry this Python process's own peak (boto3 and all)
    as its starting figure, since Linux keeps the larger of the two across exec."""
    gnu_time = ensure_command("time", apt="time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss, open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [gnu_time, "--quiet", "--format=%M", f"--output={rss.name}", *cmd],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        peak_rss_kib = int(rss.read().strip().splitlines()[-1])
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=proc.returncode,
        wall=wall,
        user=usage.ru_utime,
        sys=usage.ru_stime,
        peak_rss_mb=peak_rss_kib * 1024 / 1e6,
        log=log,
    )


def ensure_command(command: str, *, pip: str | None = None, apt: str | None = None) -> str:
    """Returns the path of `command`, installing it with pip or apt-get when missing."""
    found = shutil.which(command)
    if found:
        return found
    if pip:
        note(f"installing {pip} with pip")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", pip], check=True)
    elif apt:
        note(f"installing the Debian package {apt}")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-q", apt], check=True)
    found = shutil.which(command)
    if not found:
        raise SystemExit(f"`{command}` is still not on PATH after installing it")
    return found


def ensure_stsgrant(binary: Path | None, build: bool) -> Path:
    """The binary to measure: `binary` as given, or the release build, built first (a
    no-op when up to date) unless `build` is false."""
    if binary is None:
        binary = REPO / "target" / "release" / "stsgrant"
    elif build:
        build = False
    if build:
        note("cargo build --release")
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    if not binary.is_file():
        raise SystemExit(f"{binary} is missing: run `cargo build --release` first")
    return binary.resolve()


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load} at start"


def note(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"
