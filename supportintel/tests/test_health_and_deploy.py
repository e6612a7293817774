from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from supportintel.celery_app import app as celery_app
from workers import heartbeat

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_answers_ok_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["X-Request-Id"]


@pytest.mark.django_db
def test_readyz_without_a_worker_is_degraded_but_ready(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": True, "broker": True, "workers": False},
        "workers": [],
    }


@pytest.mark.django_db
def test_readyz_with_a_recent_heartbeat_is_ok_and_names_the_worker(client):
    heartbeat.beat("celery@box", pid=42, started_at=timezone.now())
    body = client.get("/readyz").json()
    assert body["status"] == "ok" and body["checks"]["workers"] is True
    assert [w["hostname"] for w in body["workers"]] == ["celery@box"]


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(client):
    configured = celery_app.conf.broker_url
    celery_app.conf.update(broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        celery_app.conf.update(broker_url=configured)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable" and response.json()["checks"]["broker"] is False


def test_request_id_from_the_client_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-Id"] == "abc-123"


def _check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` with production settings: what an operator sets and nothing more."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "STATIC_MANIFEST")
        and not k.startswith(("SECURE_HSTS_", "METRICS_"))
    }
    kept.update(
        SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnop", ALLOWED_HOSTS="example.com"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env={**kept, **env},
        capture_output=True,
        text=True,
    )


def test_check_deploy_is_clean_with_production_defaults():
    result = _check_deploy()
    assert result.returncode == 0, result.stderr + result.stdout
    # W021 (HSTS preload) is silenced on purpose while preload is off; nothing else is reported.
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."
    assert result.stderr == ""


def test_check_deploy_is_clean_with_hsts_preload_chosen():
    result = _check_deploy(SECURE_HSTS_SECONDS="31536000", SECURE_HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env["ENV_FILE"] = ""  # and no local .env
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


@pytest.mark.skipif(
    shutil.which("docker-compose") is None and not os.environ.get("CI"),
    reason="Debian's docker-compose is not installed (CI installs it)",
)
def test_docker_compose_file_is_valid():
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "COMPOSE_PROJECT_NAME": "supportintel"},
    )
    assert result.returncode == 0, result.stderr


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    schema = (tmp_path / "s.yml").read_text()
    assert "/api/v1/tickets/bulk/" in schema and "/api/v1/breaker/" in schema and "/api/v1/stats/" in schema


@pytest.mark.django_db
def test_api_docs_are_served_offline(admin_client):
    html = admin_client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()


def test_schema_documents_the_error_envelope_and_the_breaker_as_one_object(tmp_path):
    target = tmp_path / "schema.json"
    subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--format", "openapi-json", "--file", str(target)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    schema = json.loads(target.read_text())
    envelope = {"$ref": "#/components/schemas/Error"}
    paths = schema["paths"]
    create = paths["/api/v1/tickets/"]["post"]["responses"]
    assert {"400", "401", "403", "413", "429"} <= set(create)
    assert create["400"]["content"]["application/json"]["schema"] == envelope
    listing = paths["/api/v1/tickets/"]["get"]["responses"]
    assert "400" in listing and "413" not in listing
    retry = paths["/api/v1/tickets/{id}/retry/"]["post"]["responses"]
    assert retry["409"]["content"]["application/json"]["schema"] == envelope and "404" in retry
    error = schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "details", "request_id"]
    breaker = paths["/api/v1/breaker/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert breaker == {"$ref": "#/components/schemas/Breaker"}  # one object, not an array
    priority = schema["components"]["schemas"]["Ticket"]["properties"]["priority"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in priority["oneOf"]  # "" until classified


def test_compose_restarts_every_process_that_exits():
    """A worker that ends on an `Unrecoverable error` (kombu's Redis transport can, on a Redis loss) exits;
    Docker's restart policy, not the health check, is what brings an exited container back."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {name: services[name].get("restart") for name in ("web", "worker", "beat")} == dict.fromkeys(
        ("web", "worker", "beat"), "unless-stopped"
    )
    worker = services["worker"]
    assert worker["command"].split()[:3] == ["celery", "-A", "supportintel"]  # celery itself is the container's process
    assert "inspect ping" in worker["healthcheck"]["test"][1]


def test_compose_runs_classification_on_a_threads_pool_that_fills_the_llm_threads():
    """Classification waits on the LLM: a threads pool, with at least as many task threads as LLM threads
    (tickets arriving one at a time each take a task), and a database that accepts all their connections."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["worker"]["command"].split()
    concurrency = int(command[command.index("-c") + 1])
    llm_threads = int(compose["x-app"]["environment"]["LLM_CONCURRENCY"].split(":-")[1].rstrip("}"))
    assert command[command.index("--pool") + 1] == "threads"
    assert "--max-tasks-per-child" not in command  # a threads pool cannot recycle its threads
    assert concurrency >= llm_threads
    postgres = compose["services"]["postgres"]["command"]
    max_connections = int(next(arg for arg in postgres if arg.startswith("max_connections=")).split("=")[1])
    assert max_connections >= 3 * concurrency + 20  # three workers, web and beat
