"""Drafting a resolution (resolutions.services.draft_resolution) over real HTTP against the repository's fake
OpenAI-compatible server, and its template fallback for every reason the specialist's model does not answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from classification import services as classification
from classification.tests.factories import ClassificationFactory
from knowledge.tests.factories import article
from resolutions import defaults, services
from resolutions.models import Draft, DraftSource, DraftStatus
from resolutions.tasks import draft_resolutions_task
from resolutions.tests.factories import SpecialistFactory
from tickets.models import WorkState
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

REFUND_BODY = "I was charged twice for my subscription this month, how do I get a refund?"


@pytest.fixture
def refund_articles():
    return [
        article(
            "Refunds",
            "# Refund policy\n\nA double charge is refunded within 5 business days once we confirm the duplicate "
            "payment. Ask for a refund from the billing page.",
            category="billing",
        ),
        article(
            "Invoices",
            "# Invoices\n\nInvoices for every subscription payment are on the billing page.",
            category="billing",
        ),
        article(
            "Two-factor login", "# 2FA\n\nReset two-factor authentication from the login page.", category="account"
        ),
    ]


def _classified(body: str = REFUND_BODY, **fields):
    ticket = TicketFactory.create(subject="Charged twice", body=body, classified=True, category="billing", **fields)
    ClassificationFactory.create(ticket=ticket, category="billing", summary="Charged twice this month.")
    return ticket


def test_the_specialist_drafts_a_reply_citing_the_retrieved_sources(fake_llm, refund_articles):
    ticket = _classified()

    draft = services.draft_resolution(ticket.pk)

    assert draft is not None and draft.status == DraftStatus.PROPOSED and draft.source == DraftSource.LLM
    assert draft.diagnosis.startswith("A billing issue") and draft.steps and draft.can_close
    assert "[1]" in draft.reply and "refunded within 5 business days" in draft.reply
    cited = [c["article_id"] for c in draft.citations]
    assert cited[0] == refund_articles[0].pk and set(cited) <= {a.pk for a in refund_articles}
    assert [c["n"] for c in draft.citations] == [1, 2] and draft.citations[0]["rank"] == 1
    assert draft.model_name == "fake-classifier" and draft.prompt_tokens and draft.fallback_reason == ""
    sent = fake_llm.state.last_request
    assert sent["messages"][0]["content"].startswith("You are a support specialist drafting the resolution")
    assert "<sources>" in sent["messages"][3]["content"] and "Refund policy" in sent["messages"][3]["content"]


def test_the_categorys_specialist_instructions_and_model_are_used(fake_llm, refund_articles):
    SpecialistFactory.create(instructions="Always mention the refund form.", model_name="billing-expert")

    draft = services.draft_resolution(_classified().pk)

    sent = fake_llm.state.last_request
    assert "Always mention the refund form." in sent["messages"][0]["content"]
    assert sent["model"] == "billing-expert" and draft is not None and draft.model_name == "billing-expert"
    assert draft.specialist is not None and draft.specialist.category.slug == "billing"


def test_an_inactive_specialist_drafts_nothing(fake_llm):
    SpecialistFactory.create(active=False)

    assert services.draft_resolution(_classified().pk) is None
    assert fake_llm.state.stats()["requests"] == 0 and not Draft.objects.exists()


def test_a_reply_citing_a_source_it_was_not_given_falls_back_to_the_template(fake_llm, refund_articles):
    fake_llm.state.configure({"mode": "bad_citation"})

    draft = services.draft_resolution(_classified().pk)

    assert draft is not None and draft.source == DraftSource.TEMPLATE and draft.fallback_reason == "invalid_output"
    assert "99" in draft.fallback_detail
    assert {c["article_id"] for c in draft.citations} <= {a.pk for a in refund_articles}


def test_without_an_llm_the_draft_is_the_reply_template_and_the_best_articles(refund_articles):
    ticket = _classified(customer_name="Dana")

    draft = services.draft_resolution(ticket.pk)

    assert draft is not None and draft.source == DraftSource.TEMPLATE and draft.fallback_reason == "not_configured"
    assert draft.reply.startswith("Hi Dana") and 'From our help centre ("Refunds › Refund policy")' in draft.reply
    assert "refunded within 5 business days" in draft.reply  # the best passage, quoted
    assert 'See also: "Invoices"' in draft.reply and "{amount}" not in draft.reply
    assert draft.reply.endswith("Best regards,\nSupport")  # the articles come before the sign-off
    assert [c["article_id"] for c in draft.citations] == [refund_articles[0].pk, refund_articles[1].pk]
    assert draft.steps[0] == "Read Refunds › Refund policy." and not draft.can_close


@pytest.mark.parametrize(
    ("mode", "reason"), [("error500", "error"), ("malformed", "invalid_output"), ("off_schema", "invalid_output")]
)
def test_each_llm_fault_gives_a_template_draft_with_its_reason(fake_llm, refund_articles, mode, reason):
    fake_llm.state.configure({"mode": mode})

    draft = services.draft_resolution(_classified().pk)

    assert draft is not None and (draft.source, draft.fallback_reason) == (DraftSource.TEMPLATE, reason)


def test_an_open_breaker_spares_the_llm(fake_llm, settings, refund_articles):
    settings.LLM_BREAKER_FAIL_MAX = 1
    fake_llm.state.configure({"mode": "error500"})
    services.draft_resolution(_classified().pk)  # trips the classification's breaker
    fake_llm.state.configure({"mode": "ok"})

    draft = services.draft_resolution(_classified().pk)

    assert draft is not None and draft.fallback_reason == "breaker_open"
    assert fake_llm.state.stats()["requests"] == 1
    assert classification.breaker_status()["state"] == "open"  # the same breaker as classification


def test_the_drafts_tokens_count_on_the_llm_budget_and_a_spent_budget_stops_them(fake_llm, settings):
    first = services.draft_resolution(_classified().pk)
    assert first is not None and first.source == DraftSource.LLM
    spent = classification.llm_spent_today()["tokens"]
    assert first.prompt_tokens is not None and first.completion_tokens is not None
    assert spent == first.prompt_tokens + first.completion_tokens
    settings.LLM_DAILY_TOKEN_BUDGET = spent

    second = services.draft_resolution(_classified().pk)

    assert second is not None and second.fallback_reason == "over_budget"
    assert fake_llm.state.stats()["requests"] == 1


def test_drafting_twice_stores_one_draft_and_calls_the_llm_once(fake_llm):
    ticket = _classified()

    draft_resolutions_task.apply(args=([ticket.pk],))
    draft_resolutions_task.apply(args=([ticket.pk],))  # redelivered

    assert Draft.objects.filter(ticket=ticket).count() == 1
    assert fake_llm.state.stats()["requests"] == 1


def test_a_draft_left_drafting_by_a_dead_worker_is_taken_over_once_stale(fake_llm, settings):
    ticket = _classified()
    row = ticket.classifications.get()
    Draft.objects.create(ticket=ticket, classification=row, category="billing")  # a worker died here
    assert services.draft_resolution(ticket.pk) is None  # still fresh: someone holds it

    settings.CELERY_TASK_TIME_LIMIT = -60  # every claim is stale now
    draft = services.draft_resolution(ticket.pk)

    assert draft is not None and draft.status == DraftStatus.PROPOSED and Draft.objects.count() == 1


def test_no_draft_when_switched_off_resolved_or_not_classified(fake_llm, settings):
    resolved = _classified(state=WorkState.RESOLVED)
    queued = TicketFactory.create()
    assert services.draft_resolution(resolved.pk) is None
    assert services.draft_resolution(queued.pk) is None
    assert services.draft_resolution(987654) is None
    settings.RESOLUTION_ENABLED = False
    assert services.draft_resolution(_classified().pk) is None
    assert not Draft.objects.exists() and fake_llm.state.stats()["requests"] == 0


def test_a_category_without_a_specialist_gets_the_general_instructions(fake_llm):
    ticket = TicketFactory.create(subject="Question", body="Where is your office?", classified=True)
    ClassificationFactory.create(ticket=ticket, category="general")

    draft = services.draft_resolution(ticket.pk)

    assert draft is not None and draft.specialist is None and draft.source == DraftSource.LLM
    assert defaults.GENERAL in fake_llm.state.last_request["messages"][0]["content"]
    assert draft.citations == [] and not draft.can_close  # nothing in the knowledge base to cite


def test_past_the_deadline_the_tickets_not_started_are_handed_back():
    first, second = _classified(), _classified()

    rest = services.draft_resolutions([first.pk, second.pk], deadline=0.0)

    assert rest == [first.pk, second.pk] and not Draft.objects.exists()
    assert services.draft_resolutions([first.pk, second.pk]) == [] and Draft.objects.count() == 2


def test_classification_publishes_the_drafting_task_by_name_unless_switched_off(default_taxonomy, settings):
    from unittest import mock

    from classification import tasks as classification_tasks

    settings.SIMILARITY_ENABLED = False
    ticket, other = TicketFactory.create(), TicketFactory.create()
    with mock.patch.object(classification_tasks.current_app, "send_task", autospec=True) as send:
        classification_tasks.classify_tickets_task.apply(args=([ticket.pk],))
        settings.RESOLUTION_ENABLED = False
        classification_tasks.classify_tickets_task.apply(args=([other.pk],))

    send.assert_called_once_with("resolutions.draft_resolutions", args=([ticket.pk],))


def test_a_worker_whose_claim_was_taken_over_writes_nothing(fake_llm, monkeypatch):
    ticket = _classified()
    taken_over = {}
    original = services._answer

    def answer_while_another_worker_takes_over(*args):
        result = original(*args)
        # Meanwhile the claim went stale and another worker took it (a new `updated` time).
        Draft.objects.filter(ticket=ticket).update(updated=timezone.now() + timedelta(seconds=1))
        taken_over["done"] = True
        return result

    monkeypatch.setattr(services, "_answer", answer_while_another_worker_takes_over)

    assert services.draft_resolution(ticket.pk) is None
    assert taken_over and Draft.objects.get(ticket=ticket).status == DraftStatus.DRAFTING


def _queries_to_draft(count: int) -> int:
    ids = [_classified().pk for _ in range(count)]
    with CaptureQueriesContext(connection) as captured:
        assert services.draft_resolutions(ids) == []
    assert Draft.objects.filter(ticket__in=ids, status=DraftStatus.PROPOSED).count() == count
    return len(captured)


def test_a_chunk_loads_its_tickets_specialists_and_sources_once(refund_articles):
    # Without the LLM (template drafts): what grows with the chunk is each ticket's claim and its stored answer.
    _queries_to_draft(1)  # the knowledge base's table statistics, read once per process
    one, two, five = _queries_to_draft(1), _queries_to_draft(2), _queries_to_draft(5)

    per_ticket = two - one
    assert per_ticket == 4  # the claim (an INSERT in a savepoint) and the answer's UPDATE; 10 before batching
    assert five - one == 4 * per_ticket  # the reads and the retrieval do not grow with the chunk


def test_a_template_draft_takes_the_tone_of_the_classifications_reply(refund_articles):
    ticket = TicketFactory.create(
        subject="Charged twice", body=REFUND_BODY, classified=True, category="billing", customer_name="Dana"
    )
    ClassificationFactory.create(ticket=ticket, category="billing", reply_tone="formal")

    draft = services.draft_resolution(ticket.pk)

    assert draft is not None and draft.reply.startswith("Dear Dana") and draft.reply.endswith("Kind regards,\nSupport")
    assert "refunded within 5 business days" in draft.reply  # still grounded, before the sign-off


def test_a_ticket_resolved_while_its_chunk_waits_gets_no_draft(refund_articles, monkeypatch):
    first, second = _classified(), _classified()
    monkeypatch.setattr(services, "RECHECK_AFTER_SECONDS", -1.0)  # as if each ticket waited behind LLM calls
    retrieve_many = services.grounding.retrieve_many

    def retrieve_then_resolve(*args, **kwargs):  # the chunk has been read: an agent resolves the second ticket
        found = retrieve_many(*args, **kwargs)
        TicketFactory._meta.model.objects.filter(pk=second.pk).update(state=WorkState.RESOLVED)
        return found

    monkeypatch.setattr(services.grounding, "retrieve_many", retrieve_then_resolve)

    assert services.draft_resolutions([first.pk, second.pk]) == []
    assert list(Draft.objects.values_list("ticket_id", flat=True)) == [first.pk]
