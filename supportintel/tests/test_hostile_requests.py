"""Hostile requests get a 4xx with the error envelope, never a 500 or a dropped connection: JSON nested
past the parser's recursion limit, cursors that decode but hold a bad position, bodies over the size limit
(sent over a real socket to the development server `make run` uses and to gunicorn, the image's server)."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from rest_framework.authtoken.models import Token

from conftest import ROOT, child_env, wait_for
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory, UserFactory

URL = "/api/v1/tickets/"
DEEP = 100_000


def _post_raw(client, url: str, body: str):
    return client.generic("POST", url, body, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("url", [URL, f"{URL}bulk/"])
@pytest.mark.parametrize(
    "body",
    [
        "[" * DEEP,
        "[" * DEEP + "]" * DEEP,
        '{"a":' * DEEP + "1" + "}" * DEEP,
        '{"tickets": ' + "[" * DEEP + "]" * DEEP + "}",
    ],
    ids=["open arrays", "closed arrays", "objects", "inside tickets"],
)
def test_json_nested_past_the_recursion_limit_is_a_400(api_client, url, body):
    response = _post_raw(api_client, url, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error" and "nested too deeply" in error["message"]
    assert error["request_id"] == response["X-Request-Id"]
    assert Ticket.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [50, 500])
def test_json_nested_within_the_limit_is_an_ordinary_validation_error(api_client, depth):
    response = _post_raw(api_client, f"{URL}bulk/", '{"tickets": [' + "[" * depth + "]" * depth + "]}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert Ticket.objects.count() == 0


def _cursor(**tokens: str) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "position",
    ["not-a-date", "\x00", "2026-13-45T99:99", "2026-01-01\x00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00+14:00"],
)
def test_a_cursor_that_decodes_but_holds_a_bad_position_is_a_400_naming_it(api_client, position):
    TicketFactory.create()
    response = api_client.get(URL, {"cursor": _cursor(p=position)})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["details"]) == ["cursor"]


@pytest.mark.django_db
def test_the_cursors_the_api_hands_out_still_page(api_client):
    tickets = TicketFactory.create_batch(3)
    first = api_client.get(URL, {"page_size": 2}).json()
    second = api_client.get(first["next"]).json()
    seen = [row["id"] for row in first["results"] + second["results"]]
    assert sorted(seen) == sorted(ticket.pk for ticket in tickets)
    back = api_client.get(second["previous"]).json()
    assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]


@pytest.mark.django_db
def test_a_dashboard_form_over_the_size_limit_is_a_413(agent_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = agent_client.post("/tickets/new/", {"subject": "big", "body": "x" * 5_000, "channel": "web"})
    assert response.status_code == 413
    assert Ticket.objects.count() == 0


# --- the development server, over a real socket --------------------------------------------------

LIMIT = 2_000_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200
    except OSError:
        return False


SERVERS = {
    # What `make run` serves with.
    "runserver": ["manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
    # What the Docker image serves with (sync workers close the connection after each answer).
    "gunicorn": ["-m", "gunicorn", "supportintel.wsgi:application", "--bind", "127.0.0.1:{port}", "--workers", "1"],
}


@pytest.fixture
def server(request: pytest.FixtureRequest, transactional_db: None, tmp_path: Path) -> Iterator[int]:
    """A real server process on the test database with MAX_REQUEST_BYTES=2 MB; yields its port."""
    port = _free_port()
    command = [sys.executable, *(part.format(port=port) for part in SERVERS[request.param])]
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        command, cwd=ROOT, env=child_env(DEBUG="1", MAX_REQUEST_BYTES=str(LIMIT)), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: _healthy(port), timeout=60)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _bulk_body(size: int) -> bytes:
    ticket = {"subject": "s", "body": "x" * 19_000}
    tickets = [ticket] * (size // 19_000 + 1)
    return json.dumps({"tickets": tickets}).encode()


def _send_then_read(port: int, token: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """A client that sends its whole request before it reads anything (as `requests` does), then reads
    one response (the connection may stay open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            f"POST /api/v1/tickets/bulk/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode())
        for start in range(0, len(body), 1 << 20):  # as a client streams it; raises if the server resets
            sock.sendall(body[start : start + (1 << 20)])
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the answer's headers"
            answer += chunk
        head_bytes, _, payload = answer.partition(b"\r\n\r\n")
        status_line, *header_lines = head_bytes.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        while len(payload) < int(headers["Content-Length"]):
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the whole answer"
            payload += chunk
    return int(status_line.split()[1]), headers, payload


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("server", "size"),
    [("runserver", 3 * LIMIT), ("runserver", 20 * LIMIT), ("gunicorn", 3 * LIMIT)],
    ids=["runserver, 3x the limit", "runserver, 20x the limit", "gunicorn, 3x the limit"],
    indirect=["server"],
)
def test_an_oversized_bulk_gets_the_413_envelope_over_a_real_socket(server, size):
    token = Token.objects.create(user=UserFactory.create(permissions=["tickets.add_ticket"])).key
    status, headers, payload = _send_then_read(server, token, _bulk_body(size))
    assert status == 413
    error = json.loads(payload)["error"]
    assert error["code"] == "request_too_large" and error["request_id"] == headers["X-Request-Id"]
    assert Ticket.objects.count() == 0
    assert _healthy(server)  # and the server goes on serving


@pytest.mark.e2e
@pytest.mark.parametrize("server", ["runserver", "gunicorn"], indirect=True)
def test_an_http_client_that_reads_after_sending_gets_the_413(server):
    token = Token.objects.create(user=UserFactory.create(permissions=["tickets.add_ticket"])).key
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    connection.request(
        "POST",
        "/api/v1/tickets/bulk/",
        body=_bulk_body(3 * LIMIT),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"]["code"] == "request_too_large"
    connection.close()
