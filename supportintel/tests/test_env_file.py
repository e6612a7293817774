"""The local `.env` that `make run` writes: every manage.py command gets the embedded default's settings
without prefixes, real environment variables still win, and production without a SECRET_KEY refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SHOW_SETTINGS = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"


def _manage(tmp_path: Path, env_file: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """manage.py as a person runs it: no DEBUG or SECRET_KEY in the environment unless given."""
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "ENV_FILE")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DATA_DIR": str(tmp_path), "ENV_FILE": str(env_file), **env},
        capture_output=True,
        text=True,
    )


def _make_env_file(directory: Path) -> Path:
    subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "-C", str(directory), ".env"], check=True)
    return directory / ".env"


def test_make_run_writes_an_env_file_once_with_debug_and_a_generated_key(tmp_path):
    env_file = _make_env_file(tmp_path)
    first = env_file.read_text()
    _make_env_file(tmp_path)

    assert env_file.read_text() == first  # written once: the key survives later runs
    lines = dict(line.split("=", 1) for line in first.splitlines() if line and not line.startswith("#"))
    assert lines["DEBUG"] == "1"
    assert len(lines["SECRET_KEY"]) >= 50
    (tmp_path / "elsewhere").mkdir()
    assert lines["SECRET_KEY"] not in _make_env_file(tmp_path / "elsewhere").read_text()  # generated, not shipped


def test_commands_read_the_env_file_without_prefixes(tmp_path):
    env_file = _make_env_file(tmp_path)
    key = env_file.read_text().split("SECRET_KEY=")[1].strip()

    done = _manage(tmp_path, env_file, "shell", "-v", "0", "-c", SHOW_SETTINGS)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", key]


def test_real_environment_variables_win_over_the_env_file(tmp_path):
    env_file = _make_env_file(tmp_path)

    done = _manage(tmp_path, env_file, "shell", "-v", "0", "-c", SHOW_SETTINGS, SECRET_KEY="from-the-environment")

    assert done.stdout.split() == ["True", "from-the-environment"]


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    done = _manage(tmp_path, tmp_path / "no-such-file", "check")

    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_debug_off_in_the_environment_is_not_overridden_by_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\n")  # a development file without a key, on a machine that says DEBUG=0

    done = _manage(tmp_path, env_file, "check", DEBUG="0")

    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr
