"""scripts/install, for real: a copy of the clone, a fresh HOME, the machine's interpreters.

Each test runs the script as a user would (a subprocess, `python3` found on PATH) with the
first `python3` on this machine's PATH and with Debian's externally managed /usr/bin/python3
(PEP 668), and checks what a user would: the commands in ~/.local/bin work, the hook is
registered, the clone is left as it was, the system Python is untouched; then uninstalls.

The script builds skilltrack's wheel from the clone and resolves its dependencies as it
would for a user; only where pip finds them differs: a folder of their wheels (and the build
backend's), downloaded once from the package index and kept in .cache/, stands in for the
index, so that each install does not list and download them again (~10 s each).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("skilltrack", "skilltrack-daemon", "skilltrack-install")
# What a clone holds that the copy leaves out: a developer's tree, not a fresh clone.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".cache", "build", "*.egg-info", "__pycache__", "*.pyc", ".*_cache",
    "artifacts", "results",
)  # fmt: skip
INSTALL_S = 600  # a bound against a hang: a cold pip cache downloads every dependency
WHEELHOUSE_S = 600  # the same bound for downloading the wheels once


def _real_python3() -> str | None:
    """The interpreter behind the first `python3` on PATH outside any virtualenv."""
    venv_bins = {str(Path(sys.prefix) / "bin"), str(Path(sys.executable).parent)}
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d not in venv_bins)
    found = shutil.which("python3", path=path)
    if found is None:
        return None
    # A version manager's shim needs the real HOME; the interpreter behind it does not.
    out = subprocess.run(
        [found, "-c", "import sys; print(sys.executable)"],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip() or None


def _system_python() -> str | None:
    """Debian's /usr/bin/python3 when it is externally managed and new enough."""
    system = Path("/usr/bin/python3")
    if not system.exists():
        return None
    out = subprocess.run(
        [system, "-c", "import sys, sysconfig; print(sysconfig.get_path('stdlib'));"
         "print(sys.version_info >= (3, 11))"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    stdlib, new_enough = out.stdout.split()
    if new_enough != "True" or not (Path(stdlib) / "EXTERNALLY-MANAGED").exists():
        return None
    return str(system)


_VERSION = "{}.{}".format(*sys.version_info[:2])  # the wheelhouse's wheels are for it


def _python_version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('{}.{}'.format(*sys.version_info[:2]))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return out.stdout.strip()


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """Wheels of skilltrack's dependencies and build backend, for this Python's version,
    fetched by pip from the configured index once (then kept while the requirements stay
    the same)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    key = hashlib.sha256(json.dumps([_VERSION, sorted(wanted)]).encode()).hexdigest()[:16]
    house = ROOT / ".cache" / f"wheelhouse-{key}"
    if house.is_dir():
        return house
    house.parent.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wheelhouse-", dir=house.parent))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", tmp, *wanted],
            capture_output=True, text=True, timeout=WHEELHOUSE_S, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        tmp.rename(house)  # whole or absent
    except OSError:
        if not house.is_dir():  # not one another run made meanwhile
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return house


class User:
    """A fresh HOME and the environment a login shell would give it, `python` first on PATH;
    pip finds the dependencies in `wheelhouse` when its wheels are for `python`'s version."""

    def __init__(self, home: Path, python: str, wheelhouse: Path) -> None:
        self.home = home
        self.bin = home / ".local" / "bin"
        self.venv = home / ".local" / "share" / "skilltrack-venv"
        self.data = home / ".local" / "share" / "skilltrack"
        drop = {"HOME", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHON"}
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in drop and not k.startswith(("XDG_", "SKILLTRACK_"))
        }
        self.env["HOME"] = str(home)
        # Downloads are shared with the real user's cache; nothing else of theirs is read.
        self.env["PIP_CACHE_DIR"] = os.environ.get(
            "PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")
        )
        self.env["PATH"] = os.pathsep.join([str(Path(python).parent), "/usr/bin", "/bin"])
        if _python_version(python) == _VERSION:
            self.env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse))

    def run(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in argv],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=INSTALL_S,
        )

    def command(self, name: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """A command as the user's shell finds it once ~/.local/bin is on PATH."""
        env = {**self.env, "PATH": f"{self.bin}{os.pathsep}{self.env['PATH']}"}
        return subprocess.run(
            [name, *argv], env=env, cwd=self.home, capture_output=True, text=True, timeout=60
        )

    def kill_daemon(self) -> None:
        pid_file = self.home / ".local" / "state" / "skilltrack" / "run" / "daemon.pid"
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


@pytest.fixture
def clone() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="st-clone-") as tmp:
        copy = Path(tmp) / "skilltrack"
        shutil.copytree(ROOT, copy, ignore=NOT_IN_A_CLONE, symlinks=True)
        yield copy


def _user(python: str | None, why: str, wheelhouse: Path) -> Iterator[User]:
    if python is None:
        pytest.skip(why)
    # Short: the daemon's socket lives under this HOME.
    with tempfile.TemporaryDirectory(prefix="st-", dir="/tmp") as tmp:
        user = User(Path(tmp), python, wheelhouse)
        try:
            yield user
        finally:
            user.kill_daemon()


@pytest.fixture
def path_user(wheelhouse: Path) -> Iterator[User]:
    yield from _user(_real_python3(), "no python3 on PATH", wheelhouse)


@pytest.fixture
def system_user(wheelhouse: Path) -> Iterator[User]:
    yield from _user(
        _system_python(), "no externally managed /usr/bin/python3 (3.11+) here", wheelhouse
    )


def _check_installed(user: User, clone: Path) -> None:
    for name in COMMANDS:
        assert (user.bin / name).resolve().is_relative_to(user.venv)
    status = user.command("skilltrack-daemon", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    settings = json.loads((user.home / ".claude" / "settings.json").read_text())
    commands = [h["command"] for e in settings["hooks"]["PostToolUse"] for h in e["hooks"]]
    assert commands == [f"{user.venv}/bin/python -I -S {_hook(user)}"]
    # A plugin install copies the clone: pip's scratch folders must not be left in it.
    assert not (clone / "build").exists()
    assert not list(clone.glob("*.egg-info"))


def _hook(user: User) -> Path:
    (hook,) = user.venv.glob("lib/python3*/site-packages/skilltrack/hook/skilltrack_hook.py")
    return hook


def test_install_works_with_an_externally_managed_system_python_and_uninstall_keeps_data(
    system_user: User, clone: Path
) -> None:
    user = system_user
    refused = user.run("/usr/bin/python3", "-m", "pip", "install", "--dry-run", clone)
    if "No module named pip" not in refused.stderr:  # what the README used to say
        assert "externally-managed-environment" in refused.stderr

    done = user.run(clone / "scripts" / "install")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{user.bin} is not on your PATH" in done.stdout
    _check_installed(user, clone)
    untouched = user.run("/usr/bin/python3", "-c", "import skilltrack")
    assert untouched.returncode != 0

    gone = user.run(clone / "scripts" / "install", "--uninstall")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not (user.home / ".claude" / "settings.json").exists()
    assert not user.venv.exists()
    assert not any((user.bin / name).is_symlink() for name in COMMANDS)
    assert (user.data / "skilltrack.db").exists()  # data is kept unless asked
    assert "--purge" in gone.stdout


def test_install_with_python3_on_path_again_then_purge_removes_program_and_data(
    path_user: User, clone: Path
) -> None:
    user = path_user
    only = user.run(clone / "scripts" / "install", "--commands-only")  # the plugin form's way
    assert only.returncode == 0, only.stdout + only.stderr
    assert user.command("skilltrack", "--version").stdout.startswith("skilltrack ")
    assert not (user.home / ".claude" / "settings.json").exists()
    for _ in range(2):  # registered, then again as after a `git pull`
        done = user.run(clone / "scripts" / "install")
        assert done.returncode == 0, done.stdout + done.stderr
    _check_installed(user, clone)

    gone = user.run(clone / "scripts" / "install", "--uninstall", "--purge")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not user.venv.exists()
    assert not user.data.exists()
    assert not (user.home / ".local" / "state" / "skilltrack").exists()
    assert not any((user.bin / name).is_symlink() for name in COMMANDS)


def test_install_refuses_to_replace_a_command_it_did_not_install(
    path_user: User, clone: Path
) -> None:
    user = path_user
    user.bin.mkdir(parents=True)
    (user.bin / "skilltrack").write_text("#!/bin/sh\necho someone else's\n")
    done = user.run(clone / "scripts" / "install")
    assert done.returncode == 1
    assert f"{user.bin}/skilltrack exists and is not ours" in done.stderr
    assert not user.venv.exists()
    assert (user.bin / "skilltrack").read_text() == "#!/bin/sh\necho someone else's\n"


def test_the_plugin_manifests_send_users_to_the_install_script_not_an_index() -> None:
    # No package index has skilltrack: `pip install skilltrack` would fail or fetch a stranger's.
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
    (listed,) = json.loads((ROOT / ".claude-plugin" / "marketplace.json").read_text())["plugins"]
    for description in (plugin["description"], listed["description"]):
        assert "pip install" not in description
        assert "scripts/install --commands-only" in description


def test_purge_never_deletes_the_home_folder_skilltrack_home_points_at(
    path_user: User, clone: Path
) -> None:
    user = path_user
    done = user.run(clone / "scripts" / "install", "--commands-only")
    assert done.returncode == 0, done.stdout + done.stderr
    (user.home / "keep.txt").write_text("mine")
    user.env["SKILLTRACK_HOME"] = str(user.home)  # a mistake, but a plausible one

    gone = user.run(clone / "scripts" / "install", "--uninstall", "--purge")

    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert f"not removing {user.home}, which holds your home folder" in gone.stdout
    assert (user.home / "keep.txt").read_text() == "mine"
    assert not user.venv.exists()
