"""The pipeline's throughput and latency on the production stack: `make bench-pipeline`.

gunicorn (2 workers, the compose command's access log), a Celery worker and beat, on a private PostgreSQL
cluster (production settings: fsync and synchronous commit on) and a private Redis server, every setting at
its production default. With `--old PATH` (a checkout of the old code, e.g. `git worktree add ../old
ab26e04`), every scenario runs on the old code and on this one, side by side in one run, alternating rounds;
each code has its own database in the same cluster. Scenarios:

- keyword: tickets bulk-posted (1,000 per request) with no LLM configured, and the time from the first
  POST until every one is classified: tickets per second, with a prefork worker (-c 2); keyword-compose
  the same with the compose file's worker command.
- llm-compose, llm-32, llm-64: the same with the fake LLM answering after 500 ms, with the compose file's
  worker, and with 32 and 64 calls in flight (`--pool threads -c N`, and LLM_CONCURRENCY=N where the code
  has it); the ideal is calls in flight / latency. The old code's LLM scenarios run twice: with its own
  fake LLM server (which reproduces the issue's table) and with this checkout's (whose listen backlog no
  longer drops connections).
- ingest: 300 sequential `POST /api/v1/tickets/`, interleaved one for one with bare DRF endpoints on the
  same server that only insert a row (bench/peer/bare_endpoint.py: a ticket row through the ORM, and a
  narrow row in plain SQL) and with `GET /healthz` (the server and middleware alone); p50, p95 and the
  ratio to the bare ticket insert. Then `POST /api/v1/tickets/bulk/` with 1,000 tickets, 10 times.
- latency: one ticket at a time on an otherwise idle stack, from just before its POST to its
  `classified_at` (keyword path).

Every figure is printed and written to bench/results/pipeline.json; docs/BENCHMARKS.md quotes them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "peer"
RESULTS = ROOT / "bench" / "results" / "pipeline.json"
FAKE_LLM_LATENCY_MS = 500
# An LLM drain posts enough tickets to keep the pool busy for about this long at the ideal rate.
LLM_DRAIN_SECONDS = 20
BULK = 1000
INGEST_REQUESTS = 300
BULK_REQUESTS = 10
LATENCY_TICKETS = 100
BARE_TABLE_SQL = "CREATE TABLE bench_bare_row (id bigserial PRIMARY KEY, subject text, body text, created timestamptz)"

SUBJECTS = ["Charged twice for order", "Cannot log in", "App crashes on start", "Do you ship to Canada?"]
BODIES = [
    "I was charged $49.99 twice for order #88123. Please refund the duplicate.",
    "Since the update I cannot log in, the password reset email never arrives.",
    "The app crashes with error E1234 every time I open the reports page. Urgent!",
    "Do you ship to Canada, and how long does delivery take?",
]


def ticket(n: int) -> dict[str, Any]:
    return {"subject": f"{SUBJECTS[n % 4]} #{n}", "body": BODIES[n % 4], "channel": "api"}


def _pg_bin() -> Path:
    base = Path("/usr/lib/postgresql")
    return base / sorted(os.listdir(base))[-1] / "bin"


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Servers:
    """A PostgreSQL cluster and a Redis server of the benchmark's own, on the given ports."""

    workdir: Path
    pg_port: int
    redis_port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        pg = self.workdir / "pg"
        pg.mkdir()
        if os.geteuid() == 0:
            shutil.chown(pg, "postgres")
        initdb = [str(_pg_bin() / "initdb"), "-D", str(pg / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        subprocess.run(_as_postgres(*initdb), check=True, stdout=subprocess.DEVNULL)
        # Production settings: fsync and synchronous_commit stay on. Enough connections for a threads pool.
        options = f"-p {self.pg_port} -k {pg} -c listen_addresses=127.0.0.1 -c max_connections=300"
        ctl = [str(_pg_bin() / "pg_ctl"), "-D", str(pg / "data"), "-o", options, "-l", str(pg / "log"), "-w", "start"]
        subprocess.run(_as_postgres(*ctl), check=True, stdout=subprocess.DEVNULL)
        redis = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", ""]
        redis += ["--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", str(self.workdir)]
        self.processes.append(subprocess.Popen(redis, stdout=subprocess.DEVNULL))
        _wait_for_port(self.redis_port)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait()
        ctl = [str(_pg_bin() / "pg_ctl"), "-D", str(self.workdir / "pg" / "data"), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_postgres(*ctl), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def postmaster_pid(self) -> int:
        return int((self.workdir / "pg" / "data" / "postmaster.pid").read_text().split()[0])

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{name}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.database_url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")


@dataclass
class Code:
    """One checkout of the product (old or new) with its own database, web server and worker."""

    name: str
    root: Path
    servers: Servers
    web_port: int
    fake_llm_port: int
    redis_db: int
    database: str
    # Whose fake LLM server answers (by default the checkout's own).
    fake_llm_root: Path | None = None
    token: str = ""
    # LLM_CONCURRENCY's default in this checkout (0: it has no LLM threads, one call per task).
    llm_threads: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.servers.database_url(self.database)

    def env(self, **extra: str) -> dict[str, str]:
        # SIMILARITY_ENABLED: a drain with similarity (issue 16) on or off, side by side.
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "SIMILARITY_ENABLED")
        env = {k: v for k, v in os.environ.items() if k in keep}
        redis_url = f"redis://127.0.0.1:{self.servers.redis_port}/{self.redis_db}"
        env.update(
            ENV_FILE="",
            DEBUG="0",
            SECRET_KEY="pipeline-bench-only-key",
            DATABASE_URL=self.url,
            REDIS_URL=redis_url,
            DATA_DIR=str(self.servers.workdir / self.name),
            # Plain http on loopback, no collectstatic: the rest is production's defaults.
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
            STATIC_MANIFEST="0",
            API_THROTTLE_USER=os.environ.get("BENCH_API_THROTTLE_USER", "1200/min"),
            PYTHONPATH=str(PEER),
        )
        env.update(extra)
        return env

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=self.root, env=self.env(), capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"{self.name}: manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def prepare(self) -> None:
        self.servers.create_database(self.database)
        (self.servers.workdir / self.name).mkdir(exist_ok=True)
        probe = "from django.conf import settings; print(getattr(settings, 'LLM_CONCURRENCY', 0))"
        self.llm_threads = int(self.manage("shell", "-c", probe).strip().splitlines()[-1])
        self.manage("migrate", "--noinput", "-v", "0")
        script = (
            "from django.contrib.auth.models import Permission, User\n"
            "from rest_framework.authtoken.models import Token\n"
            "u, _ = User.objects.get_or_create(username='bench')\n"
            "u.user_permissions.set(Permission.objects.filter(content_type__app_label='tickets'))\n"
            "print(Token.objects.get_or_create(user=u)[0].key)\n"
        )
        self.token = self.manage("shell", "-c", script).strip().splitlines()[-1]
        self.execute(BARE_TABLE_SQL)

    # --- processes ---

    def start(self, name: str, command: list[str], **env: str) -> None:
        log = (self.servers.workdir / f"{self.name}-{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            command, cwd=self.root, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_web(self, **env: str) -> None:
        # The compose web command, with 2 workers as the issue measured; the app adds the bare endpoint.
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "bare_endpoint:application",
            "--bind",
            f"127.0.0.1:{self.web_port}",
        ]
        command += ["--workers", "2", "--access-logfile", "-"]
        self.start("web", command, **env)
        _wait_for_port(self.web_port)

    def start_worker(self, worker_args: list[str], **env: str) -> None:
        command = [sys.executable, "-m", "celery", "-A", "supportintel", "worker", *worker_args]
        self.start("worker", [*command, "-n", f"bench-{self.name}@%h", "-l", "info"], **env)

    def start_beat(self, **env: str) -> None:
        schedule = str(self.servers.workdir / f"{self.name}-celerybeat-schedule")
        self.start(
            "beat", [sys.executable, "-m", "celery", "-A", "supportintel", "beat", "-l", "info", "-s", schedule], **env
        )

    def start_fake_llm(self) -> None:
        command = [sys.executable, "manage.py", "fake_llm", "--port", str(self.fake_llm_port)]
        log = (self.servers.workdir / f"{self.name}-fake_llm.log").open("ab")
        self.processes["fake_llm"] = subprocess.Popen(
            [*command, "--latency-ms", str(FAKE_LLM_LATENCY_MS)],
            cwd=self.fake_llm_root or self.root,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for_port(self.fake_llm_port)

    def llm_env(self) -> dict[str, str]:
        return {
            "OPENAI_BASE_URL": f"http://127.0.0.1:{self.fake_llm_port}/v1",
            "OPENAI_API_KEY": "bench",
            "LLM_MODEL": "fake-classifier",
        }

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    # --- data ---

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def reset(self) -> None:
        self.execute("TRUNCATE tickets_ticket, classification_classification, bench_bare_row CASCADE")
        import redis

        client = redis.Redis(port=self.servers.redis_port, db=self.redis_db)
        client.flushdb()
        # The sweep's sign that Redis kept its messages (supportintel.publishing): without it, the first
        # sweep would take the flush for a lost broker and publish every queued ticket again.
        client.set("supportintel:broker-marker", "1")

    def counts(self, conn: psycopg.Connection[Any]) -> dict[str, int]:
        rows = conn.execute("SELECT status, count(*) FROM tickets_ticket GROUP BY status").fetchall()
        return {status: n for status, n in rows}

    def classified_twice(self) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM (SELECT ticket_id FROM classification_classification WHERE source <> 'human' "
                "GROUP BY ticket_id HAVING count(*) > 1) AS twice"
            ).fetchone()
        return int(row[0]) if row else 0

    # --- HTTP ---

    def post(self, path: str, payload: Any) -> tuple[int, Any, float]:
        """One POST on a fresh connection (gunicorn's sync workers close it after each answer)."""
        return self.request("POST", path, json.dumps(payload).encode())

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any, float]:
        headers = {"Content-Type": "application/json", "Authorization": f"Token {self.token}"}
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        return response.status, json.loads(data) if data else None, elapsed


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system, children reaped included) of a process and its live descendants (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / _CLOCK_TICKS


def _cpu_by_process(code: Code) -> dict[str, float]:
    pids = {name: process.pid for name, process in code.processes.items()}
    pids["postgres"] = code.servers.postmaster_pid()
    pids["redis"] = code.servers.processes[0].pid
    return {name: _cpu_seconds(pid) for name, pid in pids.items()}


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(_percentile(samples, 0.95) * 1000, 2),
        "n": len(samples),
    }


def _wait_classified(code: Code, expected: int, timeout: float) -> tuple[float, dict[str, int]]:
    """Polls until `expected` tickets are classified (or failed); returns the time it happened."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(code.url, autocommit=True) as conn:
        while True:
            counts = code.counts(conn)
            if counts.get("classified", 0) + counts.get("failed", 0) >= expected:
                return time.perf_counter(), counts
            if time.monotonic() > deadline:
                raise RuntimeError(f"{code.name}: not drained within {timeout}s: {counts}")
            time.sleep(0.05)


def _warm_up(code: Code) -> None:
    status, _, _ = code.post("/api/v1/tickets/", ticket(0))
    assert status == 202, status
    _wait_classified(code, 1, timeout=120)
    code.reset()


def drain(code: Code, tickets: int, timeout: float) -> dict[str, Any]:
    """Bulk-post `tickets` as fast as the API takes them, and time until every one is classified; with the
    CPU each process spent meanwhile, per ticket (where the time goes)."""
    cpu_before = _cpu_by_process(code)
    started = time.perf_counter()
    for start in range(0, tickets, BULK):
        chunk = [ticket(n) for n in range(start, min(start + BULK, tickets))]
        status, body, _ = code.post("/api/v1/tickets/bulk/", {"tickets": chunk})
        assert status == 202, (status, body)
    posted = time.perf_counter() - started
    done, counts = _wait_classified(code, tickets, timeout)
    seconds = done - started
    cpu_after = _cpu_by_process(code)
    cpu = {name: round((cpu_after[name] - cpu_before[name]) / tickets * 1000, 3) for name in cpu_before}
    return {
        "tickets": tickets,
        "seconds": round(seconds, 2),
        "tickets_per_second": round(tickets / seconds, 1),
        "posting_seconds": round(posted, 2),
        "classified": counts.get("classified", 0),
        "failed": counts.get("failed", 0),
        "classified_twice": code.classified_twice(),
        "cpu_ms_per_ticket": cpu,
    }


def ingest(code: Code) -> dict[str, Any]:
    """Sequential creates, ours and the bare endpoints' in turn; then bulk requests of 1,000."""
    ours: list[float] = []
    bare: list[float] = []
    narrow: list[float] = []
    alive: list[float] = []
    for n in range(INGEST_REQUESTS):
        status, _, seconds = code.request("GET", "/healthz")
        assert status == 200, status
        alive.append(seconds)
        for path, expected, samples in (
            ("/api/v1/tickets/", 202, ours),
            ("/bench/bare/", 201, bare),
            ("/bench/bare-narrow/", 201, narrow),
        ):
            status, _, seconds = code.post(path, ticket(n))
            assert status == expected, (path, status)
            samples.append(seconds)
    bulk: list[float] = []
    for round_ in range(BULK_REQUESTS):
        chunk = [ticket(round_ * BULK + n) for n in range(BULK)]
        status, _, seconds = code.post("/api/v1/tickets/bulk/", {"tickets": chunk})
        assert status == 202, status
        bulk.append(seconds)
    create, bare_ticket = _ms(ours), _ms(bare)
    return {
        "create": create,
        "bare_ticket_insert": bare_ticket,
        "bare_narrow_insert": _ms(narrow),
        "healthz": _ms(alive),
        "create_vs_bare_p50": round(create["p50_ms"] / bare_ticket["p50_ms"], 2),
        "create_vs_bare_p95": round(create["p95_ms"] / bare_ticket["p95_ms"], 2),
        "bulk_1000": _ms(bulk),
    }


CLASSIFIED_AT_SQL = (
    "SELECT extract(epoch FROM classified_at) FROM tickets_ticket WHERE id = %s AND status = 'classified'"
)


def latency(code: Code) -> dict[str, Any]:
    """One ticket at a time, idle otherwise: from just before its POST to its `classified_at` (the
    worker's clock is this machine's)."""
    samples: list[float] = []
    with psycopg.connect(code.url, autocommit=True) as conn:
        for n in range(LATENCY_TICKETS):
            before = time.time()
            status, body, _ = code.post("/api/v1/tickets/", ticket(n))
            assert status == 202, status
            deadline = time.monotonic() + 30
            while True:
                row = conn.execute(CLASSIFIED_AT_SQL, [body["id"]]).fetchone()
                if row:
                    samples.append(float(row[0]) - before)
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{code.name}: ticket {body['id']} not classified within 30s")
                time.sleep(0.002)
            time.sleep(0.05)
    return _ms(samples)


# --- scenarios ---


@dataclass
class Scenario:
    name: str
    title: str
    run: Callable[[Code, argparse.Namespace], dict[str, Any]]
    llm: bool = False


def _compose_worker_args(root: Path) -> list[str]:
    """The worker command docker-compose.yml ships (that checkout's), without `celery -A supportintel worker`."""
    import yaml

    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    words = shlex.split(compose["services"]["worker"]["command"])
    return words[words.index("worker") + 1 :]


def _worker_args(pool: str, concurrency: int) -> list[str]:
    return ["-Q", "classification,default", "--pool", pool, "-c", str(concurrency)]


def _option(args: list[str], *flags: str) -> str | None:
    for flag in flags:
        if flag in args:
            return args[args.index(flag) + 1]
    return None


def _in_flight(code: Code, worker: list[str], env: dict[str, str]) -> int:
    """LLM calls the worker can have in flight: one per task without LLM threads (the old code); with them,
    LLM_CONCURRENCY per worker process (one process for a threads pool, -c for prefork)."""
    concurrency = int(_option(worker, "-c", "--concurrency") or os.cpu_count() or 1)
    if not code.llm_threads:
        return concurrency
    processes = concurrency if (_option(worker, "-P", "--pool") or "prefork") == "prefork" else 1
    return int(env.get("LLM_CONCURRENCY", code.llm_threads)) * processes


@contextmanager
def _stack(code: Code, worker_args: list[str], *, llm: bool = False, **worker_env: str) -> Iterator[None]:
    code.reset()
    env = code.llm_env() if llm else {}
    try:
        if llm:
            code.start_fake_llm()
        code.start_web(**env)
        code.start_worker(worker_args, **env, **worker_env)
        code.start_beat(**env)
        _warm_up(code)
        yield
    finally:
        code.stop()


def _keyword(worker_of: Callable[[Code], list[str]]) -> Callable[[Code, argparse.Namespace], dict[str, Any]]:
    def run(code: Code, args: argparse.Namespace) -> dict[str, Any]:
        worker = worker_of(code)
        with _stack(code, worker):
            figures = drain(code, args.keyword_tickets[code.name.split("+")[0]], timeout=1800)
        return {"worker": " ".join(worker), **figures}

    return run


def _llm(worker_of: Callable[[Code], list[str]], **env: str) -> Callable[[Code, argparse.Namespace], dict[str, Any]]:
    def run(code: Code, args: argparse.Namespace) -> dict[str, Any]:
        worker = worker_of(code)
        in_flight = _in_flight(code, worker, env)
        ideal = in_flight / (FAKE_LLM_LATENCY_MS / 1000)
        tickets = max(200, int(ideal * LLM_DRAIN_SECONDS))
        with _stack(code, worker, llm=True, **env):
            figures = drain(code, tickets, timeout=1800)
        return {
            "worker": " ".join(worker) + "".join(f" {k}={v}" for k, v in env.items() if code.llm_threads),
            "llm_calls_in_flight": in_flight,
            **figures,
            "ideal_tickets_per_second": ideal,
            "share_of_ideal": round(figures["tickets_per_second"] / ideal, 3),
        }

    return run


def _ingest(code: Code, args: argparse.Namespace) -> dict[str, Any]:
    with _stack(code, _worker_args("prefork", 2)):
        return ingest(code)


def _latency(code: Code, args: argparse.Namespace) -> dict[str, Any]:
    with _stack(code, _worker_args("prefork", 2)):
        return latency(code)


SCENARIOS = [
    Scenario(
        "keyword",
        "keyword only, prefork -c 2: drain of bulk-posted tickets",
        _keyword(lambda c: _worker_args("prefork", 2)),
    ),
    Scenario(
        "keyword-compose",
        "keyword only, the compose file's worker command",
        _keyword(lambda code: _compose_worker_args(code.root)),
    ),
    Scenario(
        "llm-compose",
        "LLM at 500 ms, the compose file's worker command",
        _llm(lambda code: _compose_worker_args(code.root)),
        llm=True,
    ),
    Scenario(
        "llm-32",
        "LLM at 500 ms, 32 calls in flight: threads -c 32 (and LLM_CONCURRENCY=32 where it exists)",
        _llm(lambda code: _worker_args("threads", 32), LLM_CONCURRENCY="32"),
        llm=True,
    ),
    Scenario(
        "llm-64",
        "LLM at 500 ms, 64 calls in flight: threads -c 64 (and LLM_CONCURRENCY=64 where it exists)",
        _llm(lambda code: _worker_args("threads", 64), LLM_CONCURRENCY="64"),
        llm=True,
    ),
    Scenario("ingest", "ingestion over HTTP: sequential creates beside bare inserts; bulk of 1,000", _ingest),
    Scenario("latency", "one ticket at a time, idle: POST to classified (keyword path)", _latency),
]


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers: the median over rounds (every round's value kept under `rounds`); others: the first."""
    if len(runs) == 1:
        return runs[0]
    merged: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            merged[key] = _median_of([run[key] for run in runs])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = round(statistics.median(run[key] for run in runs), 3)
        else:
            merged[key] = value
    merged["rounds"] = runs
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, help="a checkout of the old code, measured side by side")
    parser.add_argument("--only", nargs="*", default=[], help="scenario names (default: all)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per scenario, old and new alternating")
    parser.add_argument("--port-base", type=int, default=8700, help="ports from here on (web, fake LLM, servers)")
    parser.add_argument("--keyword-tickets", type=int, default=10000, help="tickets per keyword drain (new code)")
    parser.add_argument("--old-keyword-tickets", type=int, default=2000, help="tickets per keyword drain (old code)")
    args = parser.parse_args()
    args.keyword_tickets = {"new": args.keyword_tickets, "old": args.old_keyword_tickets}
    scenarios = [s for s in SCENARIOS if not args.only or s.name in args.only]
    if not shutil.which("redis-server") or not Path("/usr/lib/postgresql").is_dir():
        print("needs the postgresql and redis-server binaries")
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="supportintel-pipeline-"))
    workdir.chmod(0o755)
    base = args.port_base
    servers = Servers(workdir, pg_port=base + 10, redis_port=base + 11)
    servers.start()
    codes = [Code("new", ROOT, servers, web_port=base, fake_llm_port=base + 1, redis_db=0, database="pipeline_new")]
    if args.old:
        old = Code("old", args.old.resolve(), servers, base + 2, base + 3, redis_db=1, database="pipeline_old")
        # The old code once more for the LLM scenarios, answered by this checkout's fake LLM: the old one's
        # listen backlog of 5 drops connections when dozens of calls start at once (see classification/fake_llm.py).
        old_with_new_fake = Code("old+fake_llm_fixed", old.root, servers, base + 2, base + 3, 1, old.database, ROOT)
        codes[:0] = [old, old_with_new_fake]
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "codes": {code.name: str(code.root) for code in codes},
        "rounds": args.rounds,
    }
    try:
        for code in codes:
            if code.fake_llm_root is None:  # the other shares its database
                code.prepare()
            else:
                code.token, code.llm_threads = codes[0].token, codes[0].llm_threads
        for scenario in scenarios:
            measured = [code for code in codes if scenario.llm or code.fake_llm_root is None]
            runs: dict[str, list[dict[str, Any]]] = {code.name: [] for code in measured}
            for round_ in range(args.rounds):
                for code in measured if round_ % 2 == 0 else reversed(measured):
                    figures = scenario.run(code, args)
                    print(f"{scenario.name} [{code.name}] round {round_ + 1}: {json.dumps(figures)}", flush=True)
                    runs[code.name].append(figures)
            results[scenario.name] = {"title": scenario.title, **{n: _median_of(r) for n, r in runs.items()}}
    finally:
        for code in codes:
            code.stop()
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if isinstance(v, dict)}, indent=2))
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
