"""Settings are read and checked once, at start: a malformed value stops the process with a message
naming it, instead of failing the first ticket."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'supportintel.settings'); django.setup()"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", "DATA_DIR": str(ROOT / ".data" / "settings-test"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "prices", ['{"gpt-4o-mini": 0.15}', "not json", '["gpt-4o-mini"]', '{"m": ["a", "b"]}', '{"m": [1]}']
)
def test_malformed_llm_prices_stop_the_process_naming_the_setting(prices):
    result = _start(LLM_PRICES=prices)
    assert result.returncode != 0
    assert "ImproperlyConfigured: LLM_PRICES must be JSON like" in result.stderr


def test_well_formed_llm_prices_are_parsed_once(settings):
    assert settings.LLM_PRICES["gpt-4o-mini"] == (0.15, 0.6)
    assert _start(LLM_PRICES='{"local-model": [0, 0]}').returncode == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLASSIFY_CHUNK_SIZE": "0"}, "CLASSIFY_CHUNK_SIZE must be between 1 and 1000"),
        ({"LLM_CONCURRENCY": "0"}, "LLM_CONCURRENCY must be between 1 and 1000"),
        (
            {"LLM_TIMEOUT_SECONDS": "88", "CELERY_TASK_SOFT_TIME_LIMIT": "90"},
            "LLM_TIMEOUT_SECONDS must be at least 5 s below CELERY_TASK_SOFT_TIME_LIMIT",
        ),
    ],
)
def test_pipeline_settings_out_of_range_stop_the_process(env, message):
    result = _start(**env)
    assert result.returncode != 0 and message in result.stderr


def test_pipeline_settings_within_range_start():
    assert _start(CLASSIFY_CHUNK_SIZE="1", LLM_CONCURRENCY="8", LLM_TIMEOUT_SECONDS="60").returncode == 0
