from __future__ import annotations

import logging

from supportintel.outages import OutageLog


def test_an_outage_logs_its_traceback_once_then_one_line_per_failure_and_its_end(caplog):
    log = OutageLog(logging.getLogger("test.outage"), "database")
    caplog.set_level(logging.INFO, logger="test.outage")
    for attempt in range(5):
        try:
            raise ConnectionRefusedError(f"refused\n  attempt {attempt}")
        except ConnectionRefusedError as exc:
            log.failed("heartbeat", exc)
    log.ok()
    log.ok()
    records = caplog.records
    assert len(records) == 6  # 5 failures, 1 recovery
    assert records[0].exc_info is not None and all(r.exc_info is None for r in records[1:])
    assert all("\n" not in r.getMessage() for r in records[1:])
    assert (
        records[-1].getMessage().startswith("database is back after")
        and "5 failed attempts" in records[-1].getMessage()
    )


def test_log_each_off_logs_only_the_first_failure(caplog):
    log = OutageLog(logging.getLogger("test.outage2"), "database")
    caplog.set_level(logging.INFO, logger="test.outage2")
    for _ in range(3):
        log.failed("classifying", RuntimeError("down"), log_each=False)
    assert len(caplog.records) == 1
