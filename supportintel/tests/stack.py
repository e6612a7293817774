"""A production-like stack on private servers, for fault injection: a PostgreSQL cluster and a Redis server
of its own (so stopping or freezing them never touches the shared ones), gunicorn, a prefork Celery
worker and beat, each a real process. Used by test_faults.py and by `bench/faults.py`, which runs the
same scenarios at a larger scale and writes docs/RELIABILITY.md's figures.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = (
    Path("/usr/lib/postgresql")
    / (sorted(os.listdir("/usr/lib/postgresql"))[-1] if Path("/usr/lib/postgresql").is_dir() else "")
    / "bin"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def servers_available() -> bool:
    return shutil.which("redis-server") is not None and (PG_BIN / "initdb").exists()


def _as_postgres(*command: str) -> list[str]:
    # initdb and pg_ctl refuse to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers (the harder case)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: connections refused at once; what Redis held in memory is gone."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
            self.process = None


class PrivatePostgres:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "pg"
        self.dir.mkdir()
        shutil.chown(self.dir, "postgres") if os.geteuid() == 0 else None
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "initdb"),
                "-D",
                str(self.dir / "data"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/supportintel"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), *args),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c fsync=off -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._ctl("-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        """An abrupt stop: clients' connections break and new ones are refused."""
        self._ctl("-m", "immediate", "-w", "stop")

    def create_database(self) -> None:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE supportintel")


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Posted:
    status: int
    seconds: float
    body: Any


@dataclass
class Stack:
    """The processes of `docker compose up`, on private servers. Start what a scenario needs."""

    workdir: Path
    redis: PrivateRedis
    postgres: PrivatePostgres
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    web_port: int = 0
    token: str = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "OPENAI", "LLM_", "SQLITE"))}
        env.update(
            DEBUG="0",
            SECRET_KEY="stack-only-key",
            DATABASE_URL=self.postgres.url,
            REDIS_URL=self.redis.url,
            CELERY_BROKER_URL=self.redis.url,
            DATA_DIR=str(self.workdir),
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
            STATIC_MANIFEST="0",
            DB_CONN_MAX_AGE="0",
            WORKER_HEARTBEAT_SECONDS="2",
            LOG_LEVEL="INFO",
        )
        env.update(self.extra_env)
        return env

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True, text=True, check=True
        )
        return result.stdout

    def prepare(self) -> None:
        """Migrate the private database and make an API token (once per stack)."""
        self.postgres.create_database()
        self.manage("migrate", "--noinput", "-v", "0")
        script = (
            "from django.contrib.auth.models import Permission, User\n"
            "from rest_framework.authtoken.models import Token\n"
            "u, _ = User.objects.get_or_create(username='faults')\n"
            "u.user_permissions.set(Permission.objects.filter(content_type__app_label='tickets'))\n"
            "print(Token.objects.get_or_create(user=u)[0].key)\n"
        )
        self.token = self.manage("shell", "-c", script).strip().splitlines()[-1]

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _command(self, name: str) -> list[str]:
        python = sys.executable
        if name == "web":
            return [
                python,
                "-m",
                "gunicorn",
                "supportintel.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                "2",
                "--timeout",
                "60",
            ]
        if name == "worker":
            return [
                python,
                "-m",
                "celery",
                "-A",
                "supportintel",
                "worker",
                "-Q",
                "classification,default",
                "-c",
                "2",
                "--pool",
                "prefork",
                "-n",
                f"faults-{len(self.restarts)}@%h",
                "-l",
                "info",
            ]
        if name == "beat":
            return [
                python,
                "-m",
                "celery",
                "-A",
                "supportintel",
                "beat",
                "-l",
                "info",
                "--schedule",
                str(self.workdir / "celerybeat-schedule"),
            ]
        raise ValueError(name)

    def start(self, *names: str) -> None:
        for name in names:
            if name == "web" and not self.web_port:
                self.web_port = free_port()
            log = self.log_path(name).open("ab")
            self.processes[name] = subprocess.Popen(
                self._command(name),
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if "web" in names:
            _wait_for_port(self.web_port, timeout=30)

    def supervise(self) -> None:
        """What compose's `restart: unless-stopped` does: start again a process that exited."""
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.start(name)

    def stop(self, *names: str) -> None:
        for name in names or list(self.processes):
            process = self.processes.pop(name, None)
            if process is None:
                continue
            with _suppress_lookup():
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with _suppress_lookup():
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything in its group (a worker's pool too): no clean shutdown."""
        process = self.processes[name]
        with _suppress_lookup():
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def post(self, path: str, payload: dict[str, Any], timeout: float = 90.0) -> Posted:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}{path}",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {self.token}"},
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Posted(response.status, time.monotonic() - started, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return Posted(error.code, time.monotonic() - started, error.read().decode(errors="replace"))
        except OSError as error:  # the connection was dropped: what a client sees as an empty 500
            return Posted(0, time.monotonic() - started, str(error))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.postgres.url, connect_timeout=3) as conn:
            return conn.execute(sql).fetchall()

    def counts(self) -> dict[str, int]:
        rows = self.query("SELECT status, count(*) FROM tickets_ticket GROUP BY status")
        counts = {status: n for status, n in rows}
        automatic = self.query(
            "SELECT count(*) FROM (SELECT ticket_id FROM classification_classification WHERE source <> 'human' "
            "GROUP BY ticket_id HAVING count(*) > 1) AS twice"
        )
        counts["classified_twice"] = automatic[0][0]
        counts["total"] = sum(n for status, n in rows)
        return counts

    def wait_until(self, check: Callable[[], bool], timeout: float) -> float:
        """Seconds until `check` holds (supervising processes meanwhile); raises after `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.supervise()
            try:
                if check():
                    return time.monotonic() - started
            except psycopg.Error:
                pass
            time.sleep(0.25)
        raise AssertionError(f"not within {timeout}s; counts: {self._safe_counts()}")

    def classified_ids(self, ids: list[int]) -> Callable[[], bool]:
        def check() -> bool:
            rows = self.query(
                f"SELECT count(*) FROM tickets_ticket WHERE status = 'classified' AND id IN ({','.join(map(str, ids))})"
            )
            return rows[0][0] == len(ids)

        return check

    def all_classified(self, expected: int) -> Callable[[], bool]:
        return lambda: self.counts().get("classified", 0) >= expected

    def _safe_counts(self) -> dict[str, int] | str:
        try:
            return self.counts()
        except psycopg.Error as exc:
            return str(exc)

    def reset_data(self) -> None:
        self.query_exec("TRUNCATE tickets_ticket, classification_classification CASCADE")

    def query_exec(self, sql: str) -> None:
        with psycopg.connect(self.postgres.url, connect_timeout=3, autocommit=True) as conn:
            conn.execute(sql)

    def log_lines(self, name: str, start: int = 0) -> list[str]:
        path = self.log_path(name)
        if not path.exists():
            return []
        return path.read_text(errors="replace").splitlines()[start:]


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is ProcessLookupError


def ticket(n: int, **extra: Any) -> dict[str, Any]:
    subjects = ["Charged twice for order", "Cannot log in", "App crashes on start", "Do you ship to Canada?"]
    return {"subject": f"{subjects[n % 4]} #{n}", "body": f"Ticket number {n}: please help, error E{n % 7}.", **extra}
