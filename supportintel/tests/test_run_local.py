"""`make run`'s launcher: web server and worker start together, and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, wait_for


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


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False


@pytest.mark.e2e
def test_ctrl_c_stops_the_web_server_and_the_worker(tmp_path):
    port = _free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DEBUG": "1"}
    marker = f"DATA_DIR={tmp_path}"
    process = subprocess.Popen(
        [sys.executable, "-m", "supportintel.run_local", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), timeout=60)
        time.sleep(1)  # let the worker finish starting
        assert len(_processes_with(marker)) >= 4  # launcher, web server, worker and its pool
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground job
        assert process.wait(timeout=40) == 0
        assert _processes_with(marker) == []  # nothing outlives the launcher
        assert not _healthy(f"http://127.0.0.1:{port}/healthz")
    finally:
        for pid in _processes_with(marker):
            os.kill(pid, signal.SIGKILL)
