"""Cross-app fixtures: users and clients, real-service checks, and a real Celery worker process."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tickets.tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent
AGENT_PERMISSIONS = ["tickets.view_ticket", "tickets.add_ticket", "tickets.change_ticket"]


@pytest.fixture(scope="session", autouse=True)
def _configured_services_are_reachable() -> None:
    """With REDIS_URL set the suite runs against Redis: if it cannot be reached, fail, never skip."""
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except redis.exceptions.RedisError as exc:
            pytest.fail(f"REDIS_URL is set but Redis cannot be reached: {exc}", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Every user a test makes has a password; the production hasher (PBKDF2, a million rounds) would cost
    most of a second each on this machine. The login tests check our behaviour, not the hash's strength."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _llm_guard(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No LLM unless a test configures one, and never a client pointed beyond loopback."""
    import openai

    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_API_KEY = ""
    original = openai.OpenAI.__init__

    def guarded(self: Any, *args: Any, base_url: Any = None, **kwargs: Any) -> None:
        host = urlsplit(str(base_url or "https://api.openai.com/v1")).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise RuntimeError(f"tests may not reach {host}: only the fake LLM on loopback")
        original(self, *args, base_url=base_url, **kwargs)

    monkeypatch.setattr(openai.OpenAI, "__init__", guarded)


@pytest.fixture(autouse=True)
def _memory_breaker() -> Iterator[None]:
    """Unit tests use in-memory breakers (the LLM's and the fallback model's), fresh for each test."""
    from classification import breaker

    for name in breaker.NAMES:
        breaker.install_storage(breaker.SharedStorage(None), name)
    yield
    for name in breaker.NAMES:
        breaker.install_storage(breaker.SharedStorage(None), name)


@pytest.fixture(autouse=True)
def _broker_not_known_failing() -> None:
    """A broker failure seen by one test must not make the next one skip publishing."""
    from supportintel import publishing

    publishing.reset()


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> None:
    """What the cache holds is per test: the API throttle counts requests per user id (and SQLite hands a
    rolled-back user's id to the next test's user, which would inherit its requests and get 429s), and the
    overview keeps its period figures there (a test would see the figures of the test before it), and the
    incident banner its open incidents."""
    from django.core.cache import cache

    if not settings.REDIS_URL:
        cache.clear()
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3)
    for pattern in ("supportintel:*throttle_*", "supportintel:*stats:*", "supportintel:*incidents:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


@pytest.fixture
def fake_llm(settings: Any) -> Iterator[Any]:
    """The repository's fake OpenAI-compatible server on a free loopback port, over real HTTP."""
    from classification.fake_llm import FakeLLMServer

    server = FakeLLMServer("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = "test-key"
    settings.LLM_MODEL = "fake-classifier"
    settings.LLM_TIMEOUT_SECONDS = 1.0
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def redis_breaker(settings: Any) -> Iterator[Any]:
    """The Redis-backed breaker storage (needs REDIS_URL: CI's service run sets it), for both breakers; yields
    the LLM's."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL; .ci/run runs this on Redis")
    from classification import breaker

    client = breaker.redis_client(settings.REDIS_URL)
    stores = [breaker.SharedStorage(breaker.RedisBackend(client, breaker.namespace(name))) for name in breaker.NAMES]
    for name, store in zip(breaker.NAMES, stores, strict=True):
        store.clear()
        breaker.install_storage(store, name)
    yield stores[0]
    for store in stores:
        store.clear()


@pytest.fixture(params=["database", "redis"])
def shared_breaker(request: pytest.FixtureRequest, settings: Any, transactional_db: None) -> Iterator[str]:
    """The breaker this process shares with the processes it starts, on each storage this run offers:
    the database always, Redis when REDIS_URL is set. Yields the LLM_BREAKER_STORAGE value for them."""
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL; .ci/run runs this on Redis")
    from classification import breaker

    settings.LLM_BREAKER_STORAGE = request.param
    stores = [breaker.SharedStorage(breaker.configured_backend(name)) for name in breaker.NAMES]
    for name, store in zip(breaker.NAMES, stores, strict=True):
        store.clear()
        breaker.install_storage(store, name)
    yield request.param
    for store in stores:
        store.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """A reused test database may have been emptied by a transactional test of an earlier run: put the
    default taxonomy (installed by a data migration) back, as a fresh migrate would."""
    with django_db_blocker.unblock():
        _install_default_taxonomy()


def _install_default_taxonomy() -> None:
    from django.apps import apps

    migration = importlib.import_module("classification.migrations.0002_default_taxonomy")
    migration.install_defaults(apps, None)
    # What later data migrations add to it (required information and tones).
    importlib.import_module("classification.migrations.0007_richer_answers").set_defaults(apps, None)
    importlib.import_module("classification.migrations.0009_issue_tracker_and_howto_terms").add_terms(apps, None)
    importlib.import_module("classification.migrations.0012_money_and_card_terms").add_terms(apps, None)


@pytest.fixture
def default_taxonomy(transactional_db: None) -> None:
    """For transactional tests: tables are emptied after each one, so put the taxonomy back first."""
    _install_default_taxonomy()


@pytest.fixture
def agent(db: None) -> Any:
    return UserFactory.create(username="agent", permissions=AGENT_PERMISSIONS)


@pytest.fixture
def outsider(db: None) -> Any:
    """Logged in, but without any ticket permission (the permission boundary)."""
    return UserFactory.create(username="outsider")


@pytest.fixture
def agent_client(agent: Any) -> Client:
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def api_client(agent: Any) -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=agent)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _database_env() -> dict[str, str]:
    """Point a child process at the database this test runs on (the test database)."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(conf["NAME"])}
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return {"DATABASE_URL": f"postgresql://{auth}{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"}


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **_database_env(), **extra}
    env.setdefault("SECRET_KEY", settings.SECRET_KEY)
    return env


def _purge_queues() -> None:
    from supportintel.celery_app import all_queues, app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in all_queues().split(","):
            channel.queue_purge(queue)  # type: ignore[attr-defined]  # kombu's Channel has it


@pytest.fixture
def celery_worker_process(
    default_taxonomy: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start a real `celery worker` process on the configured broker and the test database. The queues are
    purged once, before the test: what an earlier test left is gone, what this test publishes before it starts
    a worker stays for it."""
    processes: list[subprocess.Popen[bytes]] = []
    _purge_queues()

    def start(
        concurrency: int = 1,
        beat: bool = False,
        pool: str = "prefork",
        queues: str = "",
        **env: str,
    ) -> subprocess.Popen[bytes]:
        """`concurrency` pool processes (or threads, with `pool="threads"`); with `beat`, the worker also runs
        the beat schedule (`-B`); `queues`: the queues it consumes (every one by default)."""
        from supportintel.celery_app import all_queues

        Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
        log = open(Path(settings.DATA_DIR) / f"worker-{len(processes)}.log", "wb")  # noqa: SIM115 - closed with the process
        # A fresh schedule file: one left by an earlier run would carry its last-run times.
        schedule = ["-B", "-s", str(tmp_path_factory.mktemp("beat") / "schedule")] if beat else []
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "supportintel",
                "worker",
                "-Q",
                queues or all_queues(),
                "-c",
                str(concurrency),
                *schedule,
                "--pool",
                pool,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
                "-n",
                f"test{len(processes)}@%h",
            ],
            cwd=ROOT,
            env=child_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: the pool processes and an embedded beat go with it at the end, even when a
            # test SIGKILLed the main process (they would outlive it, consuming and publishing into later tests).
            start_new_session=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
