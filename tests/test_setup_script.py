"""The set-up script `./hallkit` on machines it cannot fix by itself: no root and no sudo, sudo that wants a
password, no Debian mirror, no package index. `id`, `sudo`, `apt-get`, `dpkg-query` and the virtual environment's
python are small stub scripts here (the one place a stub stands in: these failures cannot be made for real on the
build machine); the script itself is the real one, run by the real sh.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["mosquitto", "xvfb", "fonts-noto-cjk", "python3-venv", "chromium"]


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path):
    """A copy of the script beside a pyproject.toml, with a bin folder of stubs first on PATH."""
    work = tmp_path / "hallkit"
    work.mkdir()
    shutil.copy(ROOT / "hallkit", work / "hallkit")
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "calls"
    calls.touch()
    log = f'echo "$(basename "$0") $*" >> {calls}\n'
    stub(stubs, "id", 'case "$1" in -u) echo "${STUB_UID:-1000}";; -un) echo clerk;; *) echo "uid=1000(clerk)";; esac\n')
    # every package missing unless STUB_INSTALLED says they are all there
    stub(stubs, "dpkg-query", '[ -n "${STUB_INSTALLED:-}" ] && echo "install ok installed" || exit 1\n')
    # the virtual environment: python3 -m venv makes the stub python that stands for .venv/bin/python
    stub(stubs, "python3", log + f'mkdir -p .venv/bin && cp {stubs}/venv-python .venv/bin/python\n')
    stub(stubs, "venv-python", log + 'eval "$STUB_PIP"\n')
    stub(stubs, "apt-get", log + 'eval "$STUB_APT"\n')
    return work, stubs, calls


def run(checkout, *args: str, sudo: str | None = None, **env: str) -> tuple[int, str, list[str]]:
    work, stubs, calls = checkout
    if sudo is not None:
        stub(stubs, "sudo", f'echo "sudo $*" >> {calls}\n' + sudo)
    elif (stubs / "sudo").exists():
        (stubs / "sudo").unlink()
    path = f"{stubs}:/usr/bin:/bin"
    if shutil.which("sudo", path=path) and sudo is None:
        pytest.skip("this machine has a real sudo on PATH")
    full = {"PATH": path, "HOME": str(work), "STUB_APT": "exit 0", "STUB_PIP": "exit 0", **env}
    done = subprocess.run(["sh", str(work / "hallkit"), *args], cwd=work, env=full, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    return done.returncode, done.stdout + done.stderr, calls.read_text().splitlines()


def test_no_root_and_no_sudo_names_the_packages_and_the_command_for_root(checkout):
    code, out, calls = run(checkout, "test")
    assert code == 1
    assert "this is not root and sudo is not installed" in out
    assert "su -c 'apt-get update && apt-get install -y mosquitto" in out
    assert all(p in out for p in PACKAGES)
    assert "adduser clerk sudo" in out
    assert calls == []  # nothing tried


def test_sudo_that_wants_a_password_with_no_terminal_to_answer_it(checkout):
    code, out, calls = run(checkout, "up", sudo='[ "$1" = -n ] && { echo "sudo: a password is required" >&2; exit 1; }\n'
                                                 'exit 1\n')
    assert code == 1
    assert "sudo asks for a password" in out and "su -c 'apt-get update" in out
    assert calls == ["sudo -n true"]


def test_a_usable_sudo_runs_apt_with_its_own_output(checkout):
    code, out, calls = run(checkout, "test", sudo='[ "$1" = -n ] && exit 0\nexec "$@"\n',
                           STUB_APT='echo "Get:1 http://deb.debian.org/debian bookworm InRelease"',
                           STUB_PIP='echo "Collecting pip"; exit 1')
    assert "Get:1 http://deb.debian.org" in out       # apt speaks for itself: progress is visible
    assert "hallkit: [1/3]" in out and "hallkit: [2/3]" in out and "hallkit: [3/3]" in out
    assert "sudo apt-get update" in calls
    assert any(c.startswith("sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y") and "chromium" in c
               for c in calls)
    assert code == 1  # the stub pip fails next: see below


def test_no_debian_mirror_stops_at_apt_and_says_why(checkout):
    code, out, calls = run(checkout, "test", STUB_UID="0", STUB_APT=(
        'echo "Err:1 http://deb.debian.org/debian bookworm InRelease"; '
        'echo "  Temporary failure resolving \'deb.debian.org\'"; exit 100'))
    assert code == 1
    assert "Temporary failure resolving" in out
    assert "apt cannot reach the Debian mirror" in out and "Acquire::http::Proxy" in out
    assert calls == ["apt-get update"]  # stopped there: no install, no venv, no pip


def test_pip_that_cannot_reach_the_index_stops_at_the_first_pip_step_with_the_remedies(checkout):
    code, out, calls = run(checkout, "test", STUB_INSTALLED="1", STUB_PIP=(
        'echo "WARNING: Retrying ... SSLError(SSLCertVerificationError(1, \'certificate verify failed\'))"; '
        'echo "ERROR: Could not find a version that satisfies the requirement pip"; exit 1'))
    assert code == 1
    assert "certificate verify failed" in out
    assert "pip install --upgrade pip failed" in out
    for remedy in ("HTTPS_PROXY", "PIP_CERT", "PIP_INDEX_URL", "PIP_NO_INDEX=1 PIP_FIND_LINKS="):
        assert remedy in out
    # the upgrade's failure is not swallowed: the package install never runs
    assert calls == ["python3 -m venv .venv", "python -m pip install --upgrade pip"]


def test_a_ready_machine_goes_straight_to_the_command(checkout):
    work, stubs, _ = checkout
    code, out, calls = run(checkout, "test", "-q", STUB_INSTALLED="1")
    assert code == 0, out
    assert calls == ["python3 -m venv .venv", "python -m pip install --upgrade pip",
                     "python -m pip install -e .[test]", "python -m pytest -q"]
    stub(work / ".venv/bin", "hall", 'echo "hall $*"\n')
    code, out, calls = run(checkout, "stats", "--json", STUB_INSTALLED="1")
    assert code == 0 and "hall stats --json" in out
    assert calls[4:] == []  # installed once: pip runs again only when pyproject.toml changes


def test_the_ci_runs_the_readme_command_and_nothing_else():
    text = (ROOT / ".ci/run").read_text()
    commands = [line for line in text.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["exec ./hallkit test"]
    readme = (ROOT / "README.md").read_text()
    assert "./hallkit up" in readme and "./hallkit test" in readme
    assert os.access(ROOT / "hallkit", os.X_OK)


def test_install_sets_the_machine_up_then_hands_over_to_hall_install_as_root(checkout):
    work, stubs, calls_file = checkout
    stub(stubs, "dpkg-query", f'echo "dpkg-query $*" >> {calls_file}\necho "install ok installed"\n')
    run(checkout, "test", STUB_INSTALLED="1")          # the environment once
    stub(work / ".venv/bin", "hall", 'echo "hall $* as $(id -u)"\n')
    code, out, calls = run(checkout, "install", "server", "--root", "/tmp/x", STUB_UID="0")
    assert code == 0 and "hall install server --root /tmp/x as 0" in out
    assert any("chrony" in c for c in calls if c.startswith("dpkg-query"))  # the server's own packages
    code, out, _ = run(checkout, "install", "terminal", "--server", "10.0.0.2", "--device", "fp-01")
    assert code == 1 and "hall install needs root" in out
    assert f"su -c '{work}/.venv/bin/hall install terminal --server 10.0.0.2 --device fp-01'" in out
