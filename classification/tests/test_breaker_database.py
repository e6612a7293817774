"""The breaker's state in the database (the embedded default): counts under concurrent writers, the
trial token, the cost of a read, and what happens when the database cannot be reached."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import time

import pybreaker
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classification import breaker, llm
from classification.models import BreakerState
from conftest import ROOT, child_env

CATEGORIES = [llm.CategoryChoice("billing", "Billing", "money", "billing")]

# A separate process that counts N failures into the shared breaker state.
INCREMENTS = textwrap.dedent(
    """
    import os, sys, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    django.setup()
    from classification import breaker
    store = breaker.storage()
    for _ in range(int(sys.argv[1])):
        store.increment_counter()
    print(store.name, store.degraded)
    """
)


@pytest.fixture
def store(transactional_db: None) -> breaker.SharedStorage:
    shared = breaker.SharedStorage(breaker.DatabaseBackend())
    shared.clear()
    breaker.install_storage(shared)
    return shared


def _in_threads(count: int, work) -> None:
    def run() -> None:
        try:
            work()
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_failures_counted_by_concurrent_threads_are_all_kept(store):
    _in_threads(8, lambda: [store.increment_counter() for _ in range(25)])
    assert store.counter == 200 and not store.degraded
    assert BreakerState.objects.get(name="llm").fail_counter == 200


def test_failures_counted_by_concurrent_processes_are_all_kept(store):
    env = child_env(LLM_BREAKER_STORAGE="database")
    probes = [
        subprocess.Popen([sys.executable, "-c", INCREMENTS, "30"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [probe.communicate(timeout=120)[0].strip() for probe in probes]
    assert outputs == ["database False"] * 3  # each used the database, none fell back to memory
    assert store.counter == 90


def test_only_one_of_many_racing_callers_gets_the_trial_token(store):
    taken: list[bool] = []
    _in_threads(8, lambda: taken.append(store.take_trial(60)))
    assert sorted(taken) == [False] * 7 + [True]


def test_a_trial_token_is_released_by_its_holder_only_and_lapses_when_it_expires(store):
    backend = breaker.DatabaseBackend()
    assert backend.take_trial("a", 60) and not backend.take_trial("b", 60)
    backend.release_trial("b")  # not b's to release
    assert not backend.take_trial("c", 60)
    backend.release_trial("a")
    assert backend.take_trial("c", 0.05)
    time.sleep(0.1)  # c died without releasing it
    assert backend.take_trial("d", 60)


def test_the_state_survives_a_missing_row_and_the_row_comes_back_on_the_first_write(store):
    assert not BreakerState.objects.exists()
    assert breaker.status()["state"] == "closed" and breaker.status()["fail_counter"] == 0
    store.increment_counter()
    assert BreakerState.objects.get(name="llm").fail_counter == 1


def test_a_status_read_is_two_queries_and_a_successful_call_writes_one_row_of_its_window(store, fake_llm):
    with CaptureQueriesContext(connection) as status_queries:
        assert breaker.status()["storage"] == "database"
    assert len(status_queries) == 2  # the state, the window's figures
    breaker.call(lambda: llm.classify("Refund", "charged twice", "", CATEGORIES, ["billing"]))  # first: builds
    with CaptureQueriesContext(connection) as call_queries:
        breaker.call(lambda: llm.classify("Refund", "charged twice", "", CATEGORIES, ["billing"]))
    sql = [q["sql"].split()[0].upper() for q in call_queries]
    assert sql.count("INSERT") == 1 and set(sql) == {"SELECT", "INSERT"}  # the window's upsert, nothing else
    assert breaker.status()["window"]["calls"] == 2


def test_the_breaker_opens_and_the_other_thread_sees_it(store, fake_llm, settings):
    settings.LLM_BREAKER_FAIL_MAX = 2
    fake_llm.state.configure({"mode": "error500"})

    def fail() -> None:
        with contextlib.suppress(llm.LLMError, pybreaker.CircuitBreakerError):
            breaker.call(lambda: llm.classify("a", "b", "", CATEGORIES, ["billing"]))

    _in_threads(1, fail)
    _in_threads(1, fail)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(lambda: llm.classify("a", "b", "", CATEGORIES, ["billing"]))
    row = BreakerState.objects.get(name="llm")
    assert (row.state, row.fail_counter) == ("open", 2) and row.opened_at is not None
    assert breaker.status()["opened_at"] == row.opened_at  # read back in one plain query, same instant
    assert fake_llm.state.stats()["requests"] == 2


# A process whose database cannot be reached: N LLM calls through the breaker, then what it saw.
UNREACHABLE = textwrap.dedent(
    """
    import os, sys, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    django.setup()
    import pybreaker
    from classification import breaker, llm
    cats = [llm.CategoryChoice("billing", "Billing", "money", "billing")]
    seen = []
    for _ in range(int(sys.argv[1])):
        try:
            breaker.call(lambda: llm.classify("Refund", "charged twice", "", cats, ["billing"]))
            seen.append("ok")
        except pybreaker.CircuitBreakerError as exc:
            seen.append(breaker.original_error(exc).reason if breaker.original_error(exc) else "breaker_open")
        except llm.LLMError as exc:
            seen.append(exc.reason)
    status = breaker.status()
    print(",".join(seen), status["state"], status["storage"], sep="|")
    """
)


@pytest.mark.parametrize(
    "database",
    [
        {"SQLITE_PATH": "/nonexistent/support-intel/db.sqlite3"},
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing_listens_here"},
    ],
    ids=["sqlite-unopenable", "postgresql-refused"],
)
def test_with_the_database_unreachable_a_process_opens_its_own_breaker_and_says_so_once(fake_llm, database):
    fake_llm.state.configure({"mode": "error500"})
    env = child_env(
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_API_KEY="test",
        LLM_MODEL="fake-classifier",
        LLM_TIMEOUT_SECONDS="1",
        LLM_BREAKER_FAIL_MAX="2",
        LLM_BREAKER_STORAGE="database",
    )
    env.pop("DATABASE_URL", None)
    env.update(database)
    result = subprocess.run(
        [sys.executable, "-c", UNREACHABLE, "4"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "error,error,breaker_open,breaker_open|open|memory (database unreachable)"
    assert result.stderr.count("breaker: database unreachable") == 1
    assert fake_llm.state.stats()["requests"] == 2
