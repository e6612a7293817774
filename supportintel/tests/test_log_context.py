"""A request's id follows the ticket into the Celery task that classifies it, on every log line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from django.conf import settings

from conftest import wait_for
from supportintel import logcontext
from tickets.models import Status, Ticket


def test_the_filter_puts_the_bound_values_on_every_record(caplog):
    caplog.set_level(logging.INFO, logger="test.context")
    caplog.handler.addFilter(logcontext.ContextFilter())
    with logcontext.bound(request_id="req-1", ticket_id=7, task_id="t-9"):
        logging.getLogger("test.context").info("inside")
    logging.getLogger("test.context").info("outside")
    inside, outside = caplog.records
    assert (inside.request_id, inside.ticket_id, inside.task_id) == ("req-1", 7, "t-9")
    assert inside.context == " [request_id=req-1] [ticket_id=7] [task_id=t-9]"
    assert outside.request_id is None and outside.context == ""


@pytest.mark.django_db
def test_an_api_request_logs_its_id_and_user(api_client, agent, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(logcontext.ContextFilter())
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post("/api/v1/tickets/", {"body": "x"}, format="json", HTTP_X_REQUEST_ID="trace-abc")
    assert response["X-Request-Id"] == "trace-abc"
    received = next(r for r in caplog.records if r.getMessage() == f"ticket {response.data['id']} received (api)")
    assert (received.request_id, received.user) == ("trace-abc", agent.username)
    logging.getLogger("test.context").info("after")  # outside the request: nothing bound
    assert caplog.records[-1].request_id is None


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_request_id_reaches_every_json_log_line_of_the_task_it_enqueued(api_client, agent, celery_worker_process):
    celery_worker_process(LOG_FORMAT="json")
    response = api_client.post(
        "/api/v1/tickets/",
        {"subject": "Refund", "body": "Charged twice"},
        format="json",
        HTTP_X_REQUEST_ID="trace-e2e-1",
    )
    assert response.status_code == 202 and response["X-Request-Id"] == "trace-e2e-1"
    ticket_id = response.data["id"]
    wait_for(lambda: Ticket.objects.filter(pk=ticket_id, status=Status.CLASSIFIED).exists(), timeout=90)
    log = Path(settings.DATA_DIR) / "worker-0.log"

    def records() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]

    def classified_line() -> dict | None:
        return next((r for r in records() if r["message"].startswith(f"ticket {ticket_id} classified")), None)

    record = wait_for(classified_line, timeout=10)
    assert record["request_id"] == "trace-e2e-1" and record["ticket_id"] == ticket_id
    assert (
        record["user"] == agent.username and record["level"] == "INFO" and record["logger"] == "classification.services"
    )
    task_id = record["task_id"]

    # Every line the task itself wrote (ours and Celery's "succeeded"), in the pool process that ran it: the
    # worker's consumer only logs the message's arrival, before the task runs.
    def ran_lines() -> list[dict]:
        return [
            r
            for r in records()
            if r["process"] != "MainProcess" and (r["task_id"] == task_id or task_id in r["message"])
        ]

    # Celery logs "succeeded" after the task returns, a moment after the ticket's row is committed.
    ran = wait_for(
        lambda: (lines := ran_lines()) and any("succeeded" in r["message"] for r in lines) and lines, timeout=10
    )
    assert len(ran) >= 2
    assert {(r["request_id"], r["user"], r["task_id"]) for r in ran} == {("trace-e2e-1", agent.username, task_id)}
