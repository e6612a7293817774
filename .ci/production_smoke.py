"""The production install, end to end: what requirements/production.txt installs (the Dockerfile's
`pip install`) runs gunicorn, a Celery worker and beat on PostgreSQL and Redis, and classifies a ticket.

Run with the Python of a fresh virtualenv that holds exactly requirements/production.txt (.ci/run
builds it); it uses nothing beyond that install and the standard library (urllib is the test client).
Usage: python .ci/production_smoke.py DATABASE_URL REDIS_URL
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(database_url: str, redis_url: str, data_dir: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO", "OPENAI", "LLM_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY="production-smoke-only-key",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATA_DIR=data_dir,
        STATIC_ROOT=str(Path(data_dir) / "static"),
        # Plain http on loopback: no TLS proxy in front of this run.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        WORKER_HEARTBEAT_SECONDS="1",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


_MAKE_TOKEN = """
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
user, _ = User.objects.get_or_create(username="smoke")
perms = Permission.objects.filter(content_type__app_label="tickets", codename__in=["add_ticket", "view_ticket"])
user.user_permissions.set(perms)
print(Token.objects.get_or_create(user=user)[0].key)
"""


def _request(url: str, token: str = "", body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")[:500]


def _wait(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def _start(env: dict[str, str], log: Path, *command: str) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _smoke(env: dict[str, str], base: str, token: str) -> None:
    assert _request(f"{base}/healthz")[0] == 200
    login_page = urllib.request.urlopen(f"{base}/accounts/login/", timeout=10).read().decode()
    stylesheet = login_page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert urllib.request.urlopen(f"{base}{stylesheet}", timeout=10).status == 200, stylesheet  # whitenoise + manifest
    status, ticket = _request(
        f"{base}/api/v1/tickets/", token, {"subject": "Charged twice", "body": "Refund my $49.99 for order #88123"}
    )
    assert status == 202, (status, ticket)
    done = _wait(
        "the ticket to be classified",
        lambda: (
            (
                t := _request(
                    ticket["status_url"] if "://" in ticket["status_url"] else base + ticket["status_url"], token
                )[1]
            )
            and t.get("status") == "classified"
            and t
        ),
    )
    assert done["category"] == "billing", done
    ready = _wait(
        "a worker heartbeat in /readyz", lambda: (r := _request(f"{base}/readyz")[1]) and r["status"] == "ok" and r
    )
    print(f"production install: ticket {done['id']} classified as {done['category']}; readyz {ready['checks']}")


def main() -> int:
    database_url, redis_url = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="supportintel-prod-") as data_dir:
        env = _env(database_url, redis_url, data_dir)
        _manage(env, "collectstatic", "--noinput", "-v", "0")  # as the Dockerfile does
        _manage(env, "migrate", "--noinput", "-v", "0")
        token = _manage(env, "shell", "-c", _MAKE_TOKEN).strip().splitlines()[-1]
        port = _free_port()
        logs = Path(data_dir)
        bin_dir = Path(sys.executable).parent
        processes = [
            _start(
                env,
                logs / "web.log",
                str(bin_dir / "gunicorn"),
                "supportintel.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ),
            _start(
                env,
                logs / "worker.log",
                str(bin_dir / "celery"),
                "-A",
                "supportintel",
                "worker",
                "-Q",
                "classification,default,events,similarity,analysis",  # every queue: the production install runs all
                "-c",
                "2",
                "--pool",
                "prefork",
                "-l",
                "info",
            ),
            _start(
                env,
                logs / "beat.log",
                str(bin_dir / "celery"),
                "-A",
                "supportintel",
                "beat",
                "--schedule",
                str(logs / "celerybeat-schedule"),
                "-l",
                "info",
            ),
        ]
        try:
            _wait("gunicorn", lambda: _request(f"http://127.0.0.1:{port}/healthz")[0] == 200)
            _smoke(env, f"http://127.0.0.1:{port}", token)
        except BaseException:
            for name in ("web", "worker", "beat"):
                print(f"--- {name}.log ---\n{(logs / f'{name}.log').read_text(errors='replace')[-4000:]}")
            raise
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        assert all(p.returncode in (0, -signal.SIGTERM) for p in processes), [p.returncode for p in processes]
    return 0


if __name__ == "__main__":
    sys.exit(main())
