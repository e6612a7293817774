from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tickets import importing, services
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db

HEADER = "subject,body,channel,customer_email,external_id,declared_priority"


def _import(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_tickets", str(path), *args, stdout=out)
    return out.getvalue()


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_rows_become_queued_tickets_and_are_enqueued(tmp_path, django_capture_on_commit_callbacks):
    path = _write(
        tmp_path,
        "export.csv",
        [
            HEADER,
            'Refund,"I was charged twice for order #A-1001, please refund",email,ann@example.com,zd-1,high',
            "Login,I cannot log in since this morning,chat,,zd-2,",
        ],
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        output = _import(path)
    tickets = {t.external_id: t for t in Ticket.objects.all()}
    assert set(tickets) == {"zd-1", "zd-2"}
    assert tickets["zd-1"].channel == "email" and tickets["zd-1"].declared_priority == "high"
    assert tickets["zd-1"].body == "I was charged twice for order #A-1001, please refund"
    assert tickets["zd-2"].customer_email == "" and tickets["zd-2"].declared_priority == ""
    assert all(t.status == Status.QUEUED for t in tickets.values())
    assert len(callbacks) == 1  # published once, after the import committed
    assert "Read 2 rows: 2 valid, 0 rejected." in output
    assert "Imported 2 tickets" in output


def test_one_rejected_row_imports_nothing_and_says_which_line_and_why(tmp_path):
    path = _write(
        tmp_path,
        "export.csv",
        [HEADER, "Fine,A good ticket,email,,,", "Bad,Another,pigeon,not-an-email,,", "Fine too,Third,web,,,"],
    )
    with pytest.raises(CommandError, match="1 of 3 rows rejected; nothing was imported"):
        output = StringIO()
        call_command("import_tickets", str(path), stdout=output)
    assert Ticket.objects.count() == 0
    report = output.getvalue()
    assert "rejected line 3: channel:" in report and "pigeon" in report
    assert "customer_email: Enter a valid email address." in report


def test_skip_invalid_imports_the_valid_rows_and_writes_the_rejects(tmp_path):
    path = _write(tmp_path, "export.csv", [HEADER, "Fine,A good ticket,email,,,", ",,web,,,", "Also fine,Body,web,,,"])
    rejects = tmp_path / "rejects.jsonl"
    output = _import(path, "--skip-invalid", "--rejects", str(rejects))
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Also fine", "Fine"]
    assert "Imported 2 tickets" in output
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert lines == [{"line": 3, "errors": {"body": ["A ticket needs a subject or a body."]}}]


def test_dry_run_validates_and_saves_nothing(tmp_path):
    path = _write(tmp_path, "export.csv", [HEADER, "Fine,A good ticket,email,,,", "Also fine,Body,web,,,"])
    output = _import(path, "--dry-run")
    assert Ticket.objects.count() == 0
    assert "2 valid, 0 rejected" in output and "Dry run: nothing was saved." in output


def test_a_dry_run_that_rejects_rows_fails_as_the_real_run_would(tmp_path):
    path = _write(tmp_path, "export.csv", [HEADER, "Fine,A good ticket,email,,,", "Bad,Body,pigeon,,,"])
    output = StringIO()
    with pytest.raises(CommandError, match="1 of 2 rows rejected; a real run would import nothing"):
        call_command("import_tickets", str(path), "--dry-run", stdout=output)
    assert Ticket.objects.count() == 0
    assert "1 valid, 1 rejected" in output.getvalue() and "Dry run: nothing was saved." in output.getvalue()


def test_a_dry_run_with_skip_invalid_succeeds_and_reports_the_rejects(tmp_path):
    path = _write(tmp_path, "export.csv", [HEADER, "Fine,A good ticket,email,,,", "Bad,Body,pigeon,,,"])
    output = _import(path, "--dry-run", "--skip-invalid")
    assert Ticket.objects.count() == 0
    assert "rejected line 3: channel:" in output


def test_a_field_over_pythons_csv_limit_is_a_rejected_row_not_a_crash(tmp_path):
    # Python's csv refuses fields over 131,072 characters by default; real email bodies are longer.
    huge = "word " * 40_000
    path = _write(tmp_path, "export.csv", [HEADER, f"Huge,{huge},email,,,", "Fine,A good ticket,email,,,"])
    output = _import(path, "--skip-invalid")
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["Fine"]
    assert "line 2: body: Ensure this field has no more than 20000 characters." in output


def test_a_jsonl_line_nested_past_the_recursion_limit_is_a_rejected_line(tmp_path):
    path = _write(tmp_path, "tickets.jsonl", ["[" * 100_000, json.dumps({"body": "Where is my parcel?"})])
    output = _import(path, "--skip-invalid")
    assert "rejected line 1: row: not valid JSON (arrays or objects nested too deeply)" in output
    assert list(Ticket.objects.values_list("body", flat=True)) == ["Where is my parcel?"]


def test_jsonl_reports_broken_lines_by_number(tmp_path):
    path = _write(
        tmp_path,
        "tickets.jsonl",
        [
            json.dumps({"subject": "Checkout", "body": "The checkout page shows error 502", "channel": "web"}),
            "{not json",
            "",
            json.dumps(["a", "list"]),
            json.dumps({"body": "x" * 20_001}),
        ],
    )
    output = _import(path, "--skip-invalid")
    assert Ticket.objects.get().subject == "Checkout"
    assert "line 2: row: not valid JSON" in output
    assert "line 4: row: not a JSON object" in output
    assert "line 5: body: Ensure this field has no more than 20000 characters." in output


def test_reimporting_the_same_file_creates_nothing_new(tmp_path):
    path = _write(
        tmp_path, "export.csv", [HEADER, "A,Body a,email,,zd-1,", "B,Body b,email,,zd-2,", "C,Body c,chat,,,"]
    )
    _import(path)
    output = _import(path)
    assert Ticket.objects.count() == 4  # the row without an external id cannot be recognised again
    assert "Imported 1 tickets" in output and "2 skipped as already received" in output


def test_column_mapping_and_received_time(tmp_path):
    received = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
    path = _write(
        tmp_path,
        "helpdesk.csv",
        ["title,description,ticket_id,created,assignee", f"Invoice,Wrong VAT on invoice,77,{received.isoformat()},bob"],
    )
    output = _import(
        path, "--column", "subject=title", "--column", "body=description", "--column", "external_id=ticket_id"
    )
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.body, ticket.external_id) == ("Invoice", "Wrong VAT on invoice", "77")
    assert ticket.created == received
    assert "Ignored columns: assignee" in output


def test_a_received_time_in_the_future_is_rejected(tmp_path):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    path = _write(tmp_path, "export.csv", ["body,created", f"Hello,{future}"])
    with pytest.raises(CommandError):
        _import(path)
    assert Ticket.objects.count() == 0


def test_a_failure_while_saving_leaves_nothing_half_imported(tmp_path, monkeypatch):
    path = _write(tmp_path, "export.csv", ["body"] + [f"Ticket number {i}" for i in range(5)])
    real = services.create_tickets_bulk
    calls = []

    def fail_on_the_third_batch(rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("database went away")
        return real(rows)

    monkeypatch.setattr(importing.services, "create_tickets_bulk", fail_on_the_third_batch)
    report = importing.validate(importing.read_records(path, "csv"), {})
    with pytest.raises(RuntimeError):
        importing.save(report, chunk_size=2)
    assert calls == [2, 2, 1]
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    ("lines", "args", "message"),
    [
        (["body"], ["--column", "nope=x"], "expected FIELD=COLUMN"),
        ([], [], "no header row"),
    ],
)
def test_unusable_files_and_options_are_command_errors(tmp_path, lines, args, message):
    path = _write(tmp_path, "export.csv", lines) if lines else tmp_path / "empty.csv"
    path.touch()
    with pytest.raises(CommandError, match=message):
        _import(path, *args)


def test_unknown_format_and_missing_file_are_command_errors(tmp_path):
    with pytest.raises(CommandError, match="Cannot tell the format"):
        _import(tmp_path / "tickets.xlsx")
    with pytest.raises(CommandError, match="No such file"):
        _import(tmp_path / "missing.csv")


def test_a_file_without_a_valid_row_imports_nothing_and_says_so(tmp_path):
    path = _write(tmp_path, "export.csv", [HEADER, ",,web,,,"])
    output = _import(path, "--skip-invalid")
    assert Ticket.objects.count() == 0
    assert "Nothing imported: no valid rows." in output
