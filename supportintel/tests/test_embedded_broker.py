"""The embedded default's broker (`atomicfs://`): whole messages only, each delivered once, across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from supportintel import embedded_broker

embedded_broker.register()

PUBLISHERS = 4
CONSUMERS = 3
MESSAGES_PER_PUBLISHER = 300
# Large bodies make each write slow enough for a reader to meet it half done (kombu's own transport does).
BODY = "x" * 64 * 1024


@pytest.fixture(autouse=True)
def _fresh_broker_state():
    """kombu remembers declared queues per process and transport; each test has a broker folder of its own."""
    embedded_broker.Transport.global_state.clear()


def _connection(folder: Path, scheme: str = "atomicfs") -> Connection:
    options: dict[str, object] = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.01,
    }
    for name in ("queue", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return Connection(f"{scheme}://", transport_options=options)


def _message_files(folder: Path) -> list[Path]:
    return [path for path in (folder / "queue").iterdir() if path.name.endswith(".msg")]


def test_a_half_written_message_is_skipped_and_picked_up_once_whole(tmp_path):
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("tickets")
        queue.put({"ticket": 1})
        [path] = _message_files(tmp_path)
        whole = path.read_bytes()
        path.write_bytes(whole[: len(whole) // 2])  # what a reader meets while a plain write is under way

        with pytest.raises(Empty):
            queue.get(block=False)
        assert path.exists()  # left in the queue, not lost

        path.write_bytes(whole)
        message = queue.get(block=False)
        message.ack()
        assert message.payload == {"ticket": 1}
        assert _message_files(tmp_path) == []
        queue.close()


def test_a_message_that_never_becomes_whole_is_set_aside_without_an_error(tmp_path):
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("tickets")
        queue.put({"ticket": 1})
        [path] = _message_files(tmp_path)
        path.write_bytes(b'{"body": ')
        old = time.time() - embedded_broker.CORRUPT_AFTER_SECONDS - 1
        os.utime(path, (old, old))
        queue.put({"ticket": 2})

        message = queue.get(block=False)
        message.ack()
        assert message.payload == {"ticket": 2}
        assert [p.name for p in (tmp_path / "queue" / ".corrupt").iterdir()] == [path.name]
        assert _message_files(tmp_path) == []
        queue.close()


def test_messages_come_out_in_the_order_they_were_published(tmp_path):
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("tickets")
        for number in range(20):
            queue.put({"n": number})
        received = []
        for _ in range(20):
            message = queue.get(block=False)
            message.ack()
            received.append(message.payload["n"])
        assert received == list(range(20))
        queue.close()


def _publish(folder: Path, publisher: int) -> None:
    with _connection(folder) as conn:
        queue = conn.SimpleQueue("tickets")  # declares and binds the queue: the exchange table races too
        for number in range(MESSAGES_PER_PUBLISHER):
            queue.put({"id": f"{publisher}-{number}", "body": BODY})
        queue.close()


def _consume(folder: Path, consumer: int) -> None:
    received = []
    with _connection(folder) as conn:
        queue = conn.SimpleQueue("tickets")
        while True:
            try:
                message = queue.get(timeout=0.2)
            except Empty:
                if (folder / "publishers-done").exists():
                    break
                continue
            assert message.payload["body"] == BODY
            received.append(message.payload["id"])
            message.ack()
        queue.close()
    (folder / f"consumer-{consumer}.json").write_text(json.dumps(received))


def test_concurrent_publishers_and_consumers_lose_nothing_and_deliver_each_message_once(tmp_path):
    context = multiprocessing.get_context("fork")
    consumers = [context.Process(target=_consume, args=(tmp_path, n)) for n in range(CONSUMERS)]
    publishers = [context.Process(target=_publish, args=(tmp_path, n)) for n in range(PUBLISHERS)]
    for process in consumers + publishers:  # consumers first: they poll while files are being written
        process.start()
    for process in publishers:
        process.join(timeout=120)
    (tmp_path / "publishers-done").touch()
    for process in consumers:
        process.join(timeout=120)

    assert [p.exitcode for p in publishers + consumers] == [0] * (PUBLISHERS + CONSUMERS)  # nobody crashed
    received = [i for n in range(CONSUMERS) for i in json.loads((tmp_path / f"consumer-{n}.json").read_text())]
    expected = {f"{p}-{n}" for p in range(PUBLISHERS) for n in range(MESSAGES_PER_PUBLISHER)}
    assert len(received) == len(expected)  # none twice
    assert set(received) == expected  # none lost
    assert all(json.loads((tmp_path / f"consumer-{n}.json").read_text()) for n in range(CONSUMERS))  # all took part
    assert _message_files(tmp_path) == []
