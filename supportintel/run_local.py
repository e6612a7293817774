"""`make run`'s launcher: the web server, a real Celery worker (with beat) and, with LLM=fake, the fake LLM
server, started together, kept running, and stopped together (Ctrl-C or SIGTERM).

Why not honcho (or foreman) with a Procfile: they start the same processes, but when one of them exits
they stop all the others — by design, and with no option to restart it. Here a child that dies (a worker
ending on an `Unrecoverable error`, an out-of-memory kill) is restarted on its own, after a back-off that
doubles from 1 s to 30 s while it keeps dying young, with a log line saying so, and the others go on
serving. This launcher also kills what a dead child leaves behind in its process group (a worker's pool
processes and its beat) before the restart, so there are never two beats, and once the product is ready
(the web server answers, a worker has reported in, the start-up backlog is classified) it prints where to
log in, as the last line of the start-up output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ObjectDoesNotExist

logger = logging.getLogger("run_local")

# How long each process may take to finish its current work after Ctrl-C before it is killed.
STOP_GRACE_SECONDS = 15
# A dead child waits this long before its restart, doubling each time it dies young, up to the maximum.
RESTART_BACKOFF_SECONDS = 1.0
RESTART_BACKOFF_MAX_SECONDS = 30.0
# A child that ran this long before it died did not die young: its back-off starts again from the bottom.
HEALTHY_AFTER_SECONDS = 60.0
POLL_SECONDS = 0.5
CHANGE_PASSWORD = ".venv/bin/python manage.py changepassword demo"
# The login is announced once the start-up backlog is classified, or this long after the web server answers.
ANNOUNCE_WAIT_SECONDS = 60.0


@dataclass
class Child:
    """One supervised process: its command, the running process and when to start it again."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    young_deaths: int = 0
    restarts: int = 0

    def start(self, env: dict[str, str]) -> None:
        # Its own process group: Ctrl-C reaches only this launcher, which stops each group as a whole
        # (a worker's pool processes included) instead of signals racing each other.
        self.process = subprocess.Popen(self.command, env=env, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None

    def exited(self) -> int | None:
        """The exit code of a child that has died and is not yet scheduled for a restart."""
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()


def _commands(args: argparse.Namespace) -> tuple[list[Child], dict[str, str]]:
    python = sys.executable
    env = dict(os.environ)
    children = []
    if args.llm == "fake":
        children.append(Child("fake LLM", [python, "manage.py", "fake_llm", "--port", str(args.fake_llm_port)]))
        env.update(
            OPENAI_BASE_URL=f"http://127.0.0.1:{args.fake_llm_port}/v1",
            OPENAI_API_KEY="fake",
            LLM_MODEL="fake-classifier",
        )
    from supportintel.celery_app import all_queues

    worker = [python, "-m", "celery", "-A", "supportintel", "worker", "-B", "-Q", all_queues()]
    worker += ["-c", "2", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"]
    children.append(Child("worker", worker))
    children.append(Child("web", [python, "manage.py", "runserver", f"{args.host}:{args.port}", "--noreload"]))
    return children, env


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has already exited
        os.killpg(process.pid, signum)


def _schedule_restart(child: Child, code: int) -> None:
    """Clear what the dead child left in its group and decide when it starts again."""
    assert child.process is not None
    _signal_group(child.process, signal.SIGKILL)  # e.g. a dead worker's pool processes and beat
    lived = time.monotonic() - child.started_at
    child.young_deaths = 0 if lived >= HEALTHY_AFTER_SECONDS else child.young_deaths + 1
    delay = min(RESTART_BACKOFF_MAX_SECONDS, RESTART_BACKOFF_SECONDS * 2 ** max(0, child.young_deaths - 1))
    child.restart_at = time.monotonic() + delay
    child.restarts += 1
    logger.warning(
        "%s exited with code %s after %.0f s; restarting it in %.0f s (restart %d)",
        child.name,
        code,
        lived,
        delay,
        child.restarts,
    )


def _supervise(children: list[Child], env: dict[str, str]) -> None:
    """One round: schedule a restart for each child that died, start those whose back-off is over."""
    for child in children:
        code = child.exited()
        if code is not None:
            _schedule_restart(child, code)
        elif child.restart_at is not None and time.monotonic() >= child.restart_at:
            child.start(env)
            assert child.process is not None
            logger.warning("%s restarted (pid %d)", child.name, child.process.pid)


def _stop(children: list[Child]) -> None:
    """TERM each child's process group (the worker's pool and beat included), wait, then KILL what is
    left, so nothing outlives the launcher."""
    processes = [child.process for child in children if child.process is not None]
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        _signal_group(process, signal.SIGKILL)  # stragglers of this group, e.g. pool processes


def _get_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            body: dict[str, object] = json.loads(response.read())
            return body
    except (OSError, ValueError):
        return None


def _django() -> None:
    """The launcher reads the product's database for its announcement (never writes it)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    django.setup()


def _backlog() -> int:
    """Tickets still waiting for the worker (the seed's, on a first run)."""
    _django()
    from django.db import DatabaseError

    from tickets.models import Status
    from tickets.stats import status_counts

    try:
        counts = status_counts()
    except DatabaseError:  # not migrated yet: nothing is waiting
        return 0
    return counts[Status.QUEUED] + counts[Status.PROCESSING]


class Announcement:
    """Says where to log in, once, when the product is ready: the web server answers, a worker has
    reported in (`/readyz` says ok) and the tickets queued at start are classified. So the login is the
    last line of the start-up output instead of scrolling away under the worker's. Waits at most
    ANNOUNCE_WAIT_SECONDS after the web server first answers."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.web_up_at: float | None = None
        self.ready = False
        self.done = False

    def check(self) -> None:
        """Called every POLL_SECONDS. Announces one call after the product was found ready, so that the
        web server's log line for our own last probe comes before the announcement, not after it."""
        if self.done:
            return
        if self.ready:
            self.done = True
            logger.info("Support Intel is ready on %s — %s. Ctrl-C stops it.", self.base_url, _login_line())
            return
        readiness = _get_json(f"{self.base_url}readyz")
        if self.web_up_at is None:
            if readiness is None:
                return
            self.web_up_at = time.monotonic()
        waited_enough = time.monotonic() - self.web_up_at > ANNOUNCE_WAIT_SECONDS
        self.ready = waited_enough or (readiness is not None and readiness.get("status") == "ok" and _backlog() == 0)


def _login_line() -> str:
    """Where to log in: the demo login, with the password `manage.py seed` generated (it keeps it in
    DATA_DIR, in the embedded default only) while that is still the password."""
    password = _generated_demo_password()
    if password is not None:
        return f"log in as 'demo', password '{password}'"
    return f"log in as 'demo' (to set its password: {CHANGE_PASSWORD})"


def _generated_demo_password() -> str | None:
    _django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError

    try:
        password = Path(settings.DEMO_PASSWORD_FILE).read_text().strip()
        demo = get_user_model().objects.get(username="demo")
    except (OSError, DatabaseError, ObjectDoesNotExist):
        return None
    return password if demo.check_password(password) else None  # not after `changepassword demo`


def _port_is_free(host: str, port: int) -> bool:
    """Nothing listens there. Like the web server, reuse the address, so the connections a previous run
    left in TIME_WAIT do not count."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--llm", default="", help="'fake' to start the fake OpenAI-compatible server and use it")
    parser.add_argument("--fake-llm-port", type=int, default=8100)
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s", level=logging.INFO)
    if not _port_is_free(args.host, args.port):
        logger.error("port %s on %s is in use: stop what uses it, or choose another with PORT=…", args.port, args.host)
        return 1
    children, env = _commands(args)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    announcement = Announcement(f"http://{args.host}:{args.port}/")
    try:
        for child in children:
            child.start(env)
        while True:
            time.sleep(POLL_SECONDS)
            _supervise(children, env)
            announcement.check()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children)


if __name__ == "__main__":
    sys.exit(main())
