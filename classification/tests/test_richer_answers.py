"""The richer answer: secondary categories, urgency indicators, reasoning, routing alternatives, the
required information a ticket lacks, the reply's tone and the switches, from the rules and from the LLM."""

from __future__ import annotations

import pytest

from classification import services
from classification.keywords import info, with_tone
from classification.models import Category, Classification
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

REFUND_AND_LOGIN = (
    "Refund and login problem",
    "I was charged twice for my subscription and want a refund. Also I cannot log in, my password reset fails. "
    "This is urgent!",
)


def _classify(subject: str, body: str, **fields: object) -> Classification:
    ticket = TicketFactory.create(subject=subject, body=body, **fields)
    services.classify_ticket(ticket.pk)
    return Classification.objects.filter(ticket=ticket).latest("created")


def test_rules_keep_a_second_topic_with_its_team_and_say_why():
    row = _classify(*REFUND_AND_LOGIN)
    assert row.source == "keyword" and row.category == "billing"
    assert [entry["category"] for entry in row.secondary_categories] == ["account"]
    assert 0 < row.secondary_categories[0]["confidence"] <= row.confidence
    teams = dict(Category.objects.values_list("slug", "team"))
    assert row.routing_alternatives == [
        {"team": teams["account"], "category": "account", "confidence": row.secondary_categories[0]["confidence"]}
    ]
    assert row.priority == "high" and "urgent" in row.urgency_indicators
    assert row.reasoning.startswith("Filed as billing because it mentions 'charged twice'")
    assert "'urgent'" in row.reasoning and row.reasoning.endswith(".")


def test_a_one_topic_ticket_has_no_secondary_category_and_no_urgency():
    row = _classify("Invoice copy", "Could you send me a copy of last month's invoice for order ORD-12345?")
    assert row.category == "billing"
    assert row.secondary_categories == [] and row.routing_alternatives == []
    assert row.urgency_indicators == [] and row.priority in ("medium", "low")


def test_a_critical_ticket_goes_to_escalation_with_its_category_team_as_the_alternative():
    row = _classify("Outage", "Everything is down, production outage, nobody can work. Error 503 on every page.")
    assert row.priority == "critical" and row.team == "escalation"
    assert row.routing_alternatives[0]["category"] == row.category
    assert row.routing_alternatives[0]["team"] == Category.objects.get(slug=row.category).team
    assert row.urgency_indicators


def test_missing_required_information_is_listed_on_the_ticket_and_asked_for():
    row = _classify("Refund please", "I was charged twice this month, please refund the extra payment.")
    ticket = Ticket.objects.get(pk=row.ticket_id)
    assert row.category == "billing" and row.missing_info == ["order_id"] == ticket.missing_info
    assert "your order number" in row.suggested_reply
    # The ask comes before the sign-off.
    assert row.suggested_reply.index("your order number") < row.suggested_reply.index("Best regards")


def test_information_given_is_not_asked_for():
    row = _classify("Refund please", "I was charged twice for order ORD-55231, please refund the extra payment.")
    assert row.category == "billing" and row.missing_info == []
    assert "could you send us" not in row.suggested_reply
    assert Ticket.objects.get(pk=row.ticket_id).missing_info == []


def test_the_tickets_own_email_counts_for_a_required_email():
    account = "I cannot log in to my account, the password reset link never arrives."
    without = _classify("Locked out", account, customer_email="")
    with_email = _classify("Locked out", account, customer_email="ada@example.com")
    assert without.category == with_email.category == "account"
    assert without.missing_info == ["email"] and with_email.missing_info == []


def test_the_category_tone_shapes_the_keyword_reply_and_a_request_overrides_it():
    account = "I cannot log in to my account, the password reset link never arrives."
    formal = _classify("Locked out", account, customer_name="Ada", customer_email="ada@example.com")
    assert formal.reply_tone == "formal"  # the default taxonomy's account tone
    assert formal.suggested_reply.startswith("Dear Ada,") and "Kind regards" in formal.suggested_reply
    assert "you'll" not in formal.suggested_reply
    concise = _classify(
        "Locked out", account, customer_name="Ada", customer_email="ada@example.com", options={"tone": "concise"}
    )
    assert concise.reply_tone == "concise"
    assert not concise.suggested_reply.startswith(("Hi", "Dear")) and len(concise.suggested_reply) < len(
        formal.suggested_reply
    )


def test_switches_turn_off_the_reply_and_the_extraction_per_request_and_per_deployment(settings):
    body = "I was charged twice for order ORD-55231, email me at ada@example.com."
    off = _classify("Refund", body, options={"reply": False, "extract": False})
    assert off.suggested_reply == "" and off.reply_tone == ""
    assert all(values == [] for values in off.entities.values()) and off.missing_info == []
    settings.REPLY_GENERATION = False
    deployment_off = _classify("Refund", body, options={"reply": True})  # a request cannot switch it back on
    assert deployment_off.suggested_reply == "" and deployment_off.entities["order_ids"] == ["ORD-55231"]


def test_the_llm_gives_the_richer_answer_and_is_told_the_needs_and_the_tone(fake_llm):
    row = _classify(*REFUND_AND_LOGIN)
    assert row.source == "llm" and row.category == "billing"
    assert [entry["category"] for entry in row.secondary_categories] == ["account"]
    assert row.routing_alternatives and row.routing_alternatives[0]["category"] == "account"
    assert row.urgency_indicators == ["urgent"] and row.reasoning
    assert row.missing_info == ["order_id"] and "your order number" in row.suggested_reply
    prompt = fake_llm.state.last_request["messages"][0]["content"]
    assert (
        "- billing (Billing and payments):" in prompt
        and "Needs: order id." in prompt
        and "Reply tone: friendly." in prompt
    )
    assert "Reply tone: formal." in prompt  # account's


def test_the_llm_is_told_of_the_switches_and_a_tone_override(fake_llm):
    row = _classify(*REFUND_AND_LOGIN, options={"reply": False, "tone": "concise"})
    assert row.source == "llm" and row.suggested_reply == ""
    prompt = fake_llm.state.last_request["messages"][0]["content"]
    assert "Replies are switched off" in prompt and "Reply tone: concise." in prompt


def test_an_llm_answer_with_a_bad_secondary_confidence_is_off_the_schema(fake_llm):
    from classification import llm

    schema = llm.build_schema([llm.CategoryChoice("billing", "Billing", "", "finance")], ["finance"])
    with pytest.raises(llm.LLMError, match="secondary_categories"):
        llm._parse(
            '{"category": "billing", "priority": "low", "sentiment": "neutral", "risk": 0.1, "summary": "",'
            ' "suggested_reply": "", "team": "finance", "confidence": 0.5, "reasoning": "", "urgency_indicators": [],'
            ' "entities": {"order_ids": [], "error_codes": [], "emails": [], "phones": [], "amounts": [], "urls": []},'
            ' "secondary_categories": [{"category": "billing", "confidence": 3}]}',
            schema,
        )


def test_tones_of_a_template_reply():
    reply = "Hi Ada,\n\nThanks for the report! We'll look into it today. It's on our list.\n\nBest regards,\nSupport"
    assert with_tone(reply, "friendly") == reply
    formal = with_tone(reply, "formal", "To proceed, we kindly ask you to provide your order number.")
    assert formal == (
        "Dear Ada,\n\nThank you for the report. We will look into it today. It is on our list.\n\n"
        "To proceed, we kindly ask you to provide your order number.\n\nKind regards,\nSupport"
    )
    assert with_tone(reply, "concise", "Please send your order number.") == (
        "Thanks for the report! Please send your order number.\n\nSupport"
    )


def test_missing_info_and_the_ask():
    entities = {"order_ids": [], "emails": ["a@b.io"], "urls": []}
    assert info.missing_info(["order_id", "email", "url"], entities) == ["order_id", "url"]
    assert info.missing_info(["order_id"], entities, known=["order_id"]) == []
    assert info.ask_for(["order_id", "url"]) == (
        "So we can sort this out quickly, could you send us your order number and a link to the page where this happens?"
    )
    assert info.ask_for([]) == ""


def test_a_reply_that_names_the_missing_information_is_not_asked_twice():
    assert info.mentions("Could you send us your order number?", "order_id")
    assert info.mentions("Please reply with the exact error code.", "error_code")
    # Words that merely contain the label's letters do not count ("David", "including").
    assert not info.mentions("Hi David, we are including your order in the refund.", "order_id")
    assert not info.mentions("Thanks, we will look into it.", "email")


def test_a_correction_works_out_what_is_missing_for_the_category_the_ticket_now_has(agent):
    # Filed as billing without an order number; an agent says it is an account problem, and the ticket carries no
    # email of its own: the order number is no longer asked for, the account's email is.
    row = _classify("Refund please", "I was charged twice this month, please refund.", customer_email="")
    ticket = Ticket.objects.get(pk=row.ticket_id)
    assert ticket.missing_info == ["order_id"]
    corrected = services.record_correction(ticket, agent, {"category": "account"})
    assert corrected.missing_info == ["email"] == ticket.missing_info
    # Back to billing: the order number extracted by no classifier is missing again.
    services.record_correction(ticket, agent, {"category": "billing"})
    assert ticket.missing_info == ["order_id"]


def test_a_correction_keeps_the_extracted_entities_in_view(agent):
    row = _classify("Refund please", "I was charged twice for order ORD-55231, please refund.", customer_email="")
    ticket = Ticket.objects.get(pk=row.ticket_id)
    services.record_correction(ticket, agent, {"category": "technical"})
    services.record_correction(ticket, agent, {"category": "billing"})  # the order id was extracted earlier
    assert ticket.missing_info == []
