"""The embedded default's broker: kombu's filesystem transport, made safe across processes.

kombu 5.7's `filesystem://` transport (`kombu/transport/filesystem.py`) is a real broker without a
server, but its files change hands unsafely:

- `_put` creates a message file under its final `.msg` name and only then locks and writes it, while
  `_get` takes the lock never: a consumer polling while another process publishes (beat, the web
  server) can take an empty or half-written file, and `loads` raises `JSONDecodeError`, which ends the
  Celery worker (`Unrecoverable error`, upstream celery/kombu#1551). The message is lost with it.
- `_get` claims a file with `shutil.move` into the system temp folder: across filesystems that is a
  copy and a delete, so two consumers can both deliver it, or deliver a partial copy.
- `_queue_bind` opens an exchange table with `"wb"` (truncating it) before it locks it, so a publisher
  reading the table at that moment reads an empty file.

This transport keeps kombu's layout and options (`data_folder_in`/`_out`, `control_folder`) and
changes only how files change hands:

- A message is written to a hidden temporary file in the queue folder and renamed to its final name
  (`os.replace` is atomic on one filesystem): a reader sees a whole message or none.
- A consumer claims a message by renaming it into `.claimed/` inside the queue folder (same
  filesystem, so exactly one consumer wins the rename). A file that does not parse — only a writer
  without this transport can leave one — is put back under its name and tried again on a later poll;
  one that still does not parse `CORRUPT_AFTER_SECONDS` after it was last written is moved to
  `.corrupt/` with an error in the log. Neither ever raises into the worker.
- Exchange tables are read whole and rewritten by temp file and `os.replace`, under a lock on a
  separate lock file.

What it does not change: like kombu's, a message is deleted once a consumer has taken it, and
unacknowledged messages return to the queue on a clean shutdown only. A worker killed outright loses
the ones it held; the stale-ticket sweep (`classification.sweep_stuck_tickets`) re-publishes their
tickets.

Registered with kombu as the `atomicfs://` scheme by `register()` (called by `supportintel.celery_app`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

SCHEME = "atomicfs"
CLAIMED_FOLDER = ".claimed"
CORRUPT_FOLDER = ".corrupt"
# A message file that still does not parse this long after its last write is not being written any
# more: it is set aside instead of being retried forever.
CORRUPT_AFTER_SECONDS = 60.0


def register() -> None:
    """Make `atomicfs://` resolve to this transport in every process that imports our Celery app."""
    TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees part of it: a hidden temporary file in the
    same folder, then a rename over the final name."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def message_filename(queue: str) -> str:
    """kombu's naming (`<time>_<uuid>.<queue>.msg`, so its `_size` and `_purge` filters still apply), with
    the time in zero-padded nanoseconds rather than milliseconds, so that names sort in publishing order."""
    return f"{time.monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"


def _is_message_of(filename: str, queue: str) -> bool:
    return filename.partition(".")[2] == f"{queue}.msg"


class Channel(filesystem.Channel):
    """A filesystem channel whose files change hands atomically (see the module docstring)."""

    # Messages.

    # The stubs of kombu's filesystem channel do not agree with those of its base class on these two.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        path = Path(self.data_folder_out) / message_filename(queue)
        try:
            write_atomically(path, dumps(payload).encode())
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path} to the queue folder") from exc

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        folder = Path(self.data_folder_in)
        for filename in sorted(os.listdir(folder)):
            if not _is_message_of(filename, queue):
                continue
            payload = self._take(folder, filename)
            if payload is not None:
                return payload
        raise Empty()

    def _take(self, folder: Path, filename: str) -> dict[str, Any] | None:
        """Claim one message file and parse it; None when another consumer won it or it is not whole."""
        claimed = folder / CLAIMED_FOLDER / filename
        claimed.parent.mkdir(exist_ok=True)
        try:
            os.rename(folder / filename, claimed)
        except FileNotFoundError:
            return None  # another consumer took it first
        try:
            payload = loads(claimed.read_bytes())
        except ValueError:
            self._set_aside(claimed, folder / filename)
            return None
        except OSError as exc:
            raise ChannelError(f"Cannot read {claimed}") from exc
        claimed.unlink()
        return payload

    def _set_aside(self, claimed: Path, original: Path) -> None:
        """A message that does not parse: back to the queue while it may still be being written, to
        `.corrupt/` once it is old."""
        age = time.time() - claimed.stat().st_mtime
        if age < CORRUPT_AFTER_SECONDS:
            os.rename(claimed, original)
            logger.debug("broker: %s is not a whole message yet; will try it again", original.name)
            return
        corrupt = original.parent / CORRUPT_FOLDER / original.name
        corrupt.parent.mkdir(exist_ok=True)
        os.rename(claimed, corrupt)
        logger.error("broker: %s never became a valid message; moved to %s", original.name, corrupt)

    # Exchange tables (which queues an exchange routes to).

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:  # type: ignore[override]
        file = self._table_file(exchange)
        try:
            table = loads(file.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ChannelError(f"Cannot read the exchange table {file}") from exc
        return [filesystem.exchange_queue_t(*entry) for entry in table]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            table = self.get_table(exchange)
            if binding not in table:
                self._write_table(exchange, [binding, *table])

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any) -> None:
        self._purge(queue)  # what the virtual channel's `_delete` does
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            table = self.get_table(exchange)
            if binding in table:
                self._write_table(exchange, [entry for entry in table if entry != binding])

    def _write_table(self, exchange: str, table: list[filesystem.exchange_queue_t]) -> None:
        try:
            write_atomically(self._table_file(exchange), dumps(table).encode())
        except OSError as exc:
            raise ChannelError(f"Cannot write the exchange table of {exchange!r}") from exc

    @contextlib.contextmanager
    def _table_lock(self, exchange: str) -> Iterator[None]:
        """One writer of an exchange's table at a time, across processes. The lock is a file of its own:
        the table itself is replaced, never written in place."""
        self.control_folder.mkdir(parents=True, exist_ok=True)
        table_file = self._table_file(exchange)
        with open(table_file.with_name(f"{table_file.name}.lock"), "ab") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _table_file(self, exchange: str) -> Path:
        """kombu's path for an exchange's table, with its checks on the exchange name."""
        path: Path = self._exchange_file(exchange)  # type: ignore[attr-defined]  # the stubs predate it
        return path


class Transport(filesystem.Transport):
    Channel = Channel
    # Exchanges declared in this process (kombu keeps them per transport class).
    global_state = virtual.BrokerState()
    driver_type = SCHEME
    driver_name = SCHEME
