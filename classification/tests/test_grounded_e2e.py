"""Grounded replies end to end: tickets posted through the API, a real Celery worker, the fake LLM over real
HTTP, the knowledge base on the test database. Every stored citation points at a chunk retrieved for its
ticket, with the model citing well and citing a source it was not given."""

from __future__ import annotations

import pytest

from classification.models import Citation, Classification
from conftest import wait_for
from knowledge import demo as knowledge_demo
from knowledge.models import Chunk
from tickets.models import Status, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TICKETS = [
    ("Charged twice", "I was charged twice for my subscription this month, please refund the duplicate."),
    ("Locked out", "I lost my phone and can't get past two-factor authentication."),
    ("API limits", "Our integration gets 429 too many requests from the API."),
]


def _post_all(api_client) -> list[int]:
    ids = []
    for subject, body in TICKETS:
        response = api_client.post("/api/v1/tickets/", {"subject": subject, "body": body}, format="json")
        assert response.status_code == 202
        ids.append(response.data["id"])
    return ids


def _classified(ids: list[int]) -> list[Classification]:
    wait_for(lambda: Ticket.objects.filter(pk__in=ids, status=Status.CLASSIFIED).count() == len(ids), timeout=90)
    return list(Classification.objects.filter(ticket_id__in=ids).order_by("ticket_id"))


def _retrieved_pairs(rows: list[Classification]) -> tuple[set[tuple[int, int, int]], set[tuple[int, int, int]]]:
    """(classification, rank, chunk) of every stored citation, and of every chunk retrieved."""
    cited = set(Citation.objects.filter(classification__in=rows).values_list("classification_id", "rank", "chunk_id"))
    retrieved = {(row.pk, entry["number"], entry["chunk"]) for row in rows for entry in row.explanation["kb_sources"]}
    return cited, retrieved


def test_a_worker_classifying_through_the_fake_llm_stores_only_citations_of_retrieved_chunks(
    api_client, celery_worker_process, fake_llm
):
    knowledge_demo.load()
    celery_worker_process(
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_API_KEY="test",
        LLM_MODEL="fake-classifier",
        LLM_TIMEOUT_SECONDS="5",
        LLM_BREAKER_STORAGE="database",
    )
    rows = _classified(_post_all(api_client))
    assert {row.source for row in rows} == {"llm"} and {row.prompt_version for row in rows} == {"v3"}
    cited, retrieved = _retrieved_pairs(rows)
    assert len(cited) == 2 * len(rows) and cited <= retrieved  # the fake cites its two best sources
    refund = Citation.objects.get(classification=rows[0], rank=1)
    assert refund.chunk == Chunk.objects.get(article__source_name="demo/refunds.md", heading="Charged twice")
    detail = api_client.get(f"/api/v1/tickets/{rows[0].ticket_id}/").json()
    assert [c["rank"] for c in detail["classifications"][0]["citations"]] == [1, 2]

    fake_llm.state.configure({"mode": "bad_citation"})
    bad = _classified(_post_all(api_client))
    assert {(row.source, row.fallback_reason) for row in bad} == {("keyword", "invalid_output")}
    cited, retrieved = _retrieved_pairs(bad)
    assert cited and cited <= retrieved  # the fallback's citations; the model's bad one was never stored
    for row in bad:  # a reply cites what it quotes, and quotes what it cites
        assert ("From our help centre" in row.suggested_reply) == row.citations.exists(), (row.category, row.pk)
    assert Citation.objects.filter(classification=bad[0], rank=1).exists()  # the refund: its best passage
