"""`make run`'s launcher: web server and worker start together, a dead child comes back, and Ctrl-C stops
them all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, wait_for

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """Processes whose environment carries the marker (our unique DATA_DIR): the launcher and its children."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = open(f"/proc/{entry}/environ", "rb").read()  # noqa: SIM115
        except OSError:
            continue
        if marker.encode() in environ.split(b"\0"):
            found.append(int(entry))
    return found


def _child_running(parent: int, word: str) -> int | None:
    """The pid of `parent`'s child whose command line contains `word`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")  # noqa: SIM115
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and word.encode() in cmdline:
            return int(entry)
    return None


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False


def _stack_env(data_dir: Path) -> dict[str, str]:
    """The embedded default on a DATA_DIR of its own, whatever the suite itself runs on."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    return {**env, "DATA_DIR": str(data_dir), "DEBUG": "1", "ENV_FILE": ""}


def _launch(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "supportintel.run_local", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_stops_the_web_server_and_the_worker(tmp_path):
    port = _free_port()
    marker = f"DATA_DIR={tmp_path}"
    process = _launch(port, _stack_env(tmp_path), tmp_path / "launcher.log")
    try:
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), timeout=60)
        # Launcher, web server, worker and its pool: the worker's pool starts after the web server answers.
        wait_for(lambda: len(_processes_with(marker)) >= 4, timeout=60)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground job
        assert process.wait(timeout=40) == 0
        assert _processes_with(marker) == []  # nothing outlives the launcher
        assert not _healthy(f"http://127.0.0.1:{port}/healthz")
    finally:
        for pid in _processes_with(marker):
            os.kill(pid, signal.SIGKILL)


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def _post_ticket(port: int, token: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/tickets/",
        data=json.dumps({"subject": "Refund", "body": "I was charged twice for my invoice, please refund."}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())["id"]


def _ticket_status(port: int, token: str, ticket_id: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/tickets/{ticket_id}/", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["status"]


def test_a_killed_worker_is_restarted_and_classifies_the_next_ticket(tmp_path):
    port = _free_port()
    env = _stack_env(tmp_path)
    marker = f"DATA_DIR={tmp_path}"
    _manage(env, "migrate", "--noinput")
    password = _manage(env, "seed", "--count", "0").split("password '")[1].split("'")[0]
    token = _manage(env, "drf_create_token", "demo").split()[2]
    log = tmp_path / "launcher.log"
    process = _launch(port, env, log)
    try:
        # The login is announced once the product is ready, with the password the seed generated.
        wait_for(lambda: "Support Intel is ready" in log.read_text(), timeout=90)
        assert f"log in as 'demo', password '{password}'" in log.read_text()
        worker = wait_for(lambda: _child_running(process.pid, "worker"), timeout=30)

        os.kill(worker, signal.SIGKILL)  # the worker's main process dies: its pool and beat are cleared too

        restarted = wait_for(lambda: (pid := _child_running(process.pid, "worker")) not in (None, worker) and pid)
        assert restarted != worker
        assert "worker exited with code -9" in log.read_text()
        assert _healthy(f"http://127.0.0.1:{port}/healthz")  # the web server went on serving
        ticket_id = _post_ticket(port, token)
        wait_for(lambda: _ticket_status(port, token, ticket_id) == "classified", timeout=90)
        assert process.poll() is None  # the launcher is still up
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=40)
        for pid in _processes_with(marker):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.django_db
def test_the_announcement_shows_the_generated_password_only_while_it_is_the_password(settings, tmp_path):
    from django.contrib.auth import get_user_model

    from supportintel import run_local

    settings.DEMO_PASSWORD_FILE = tmp_path / "demo-password"
    settings.DEMO_PASSWORD_FILE.write_text("generated-by-seed\n")
    demo = get_user_model().objects.create_user("demo", password="generated-by-seed")
    assert run_local._login_line() == "log in as 'demo', password 'generated-by-seed'"

    demo.set_password("chosen-by-its-owner")  # what `manage.py changepassword demo` does
    demo.save()
    assert run_local._login_line() == f"log in as 'demo' (to set its password: {run_local.CHANGE_PASSWORD})"


def test_a_port_in_use_stops_the_launcher_before_it_starts_anything(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "supportintel.run_local", "--port", str(port)],
            cwd=ROOT,
            env=_stack_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr
    assert _processes_with(f"DATA_DIR={tmp_path}") == []
