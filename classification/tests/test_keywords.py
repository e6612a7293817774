"""The pure keyword classifier, on hand-written tickets (no database)."""

from __future__ import annotations

import pytest

from classification.keywords import CategorySpec, KeywordError, classify, compile_rules, parse_term, stem

RULES = compile_rules(
    [
        CategorySpec("technical", "tech", [("error", 1), ("crash", 1), ("not working", 2)], "Looking at {error_code}."),
        CategorySpec(
            "billing",
            "billing",
            [("refund", 2), ("charge", 1), ("invoice", 1), ("re:\\binv-\\d+", 1)],
            "Hi {customer_name}, about {amount} on order {order_id}.",
        ),
        CategorySpec("account", "accounts", [("password", 2), ("log in", 2)], ""),
        CategorySpec("general", "frontline", [("how do i", 1)], ""),
    ]
)


@pytest.mark.parametrize(
    ("subject", "body", "category"),
    [
        ("Refund please", "", "billing"),
        ("", "I was CHARGED twice", "billing"),  # case and inflection
        ("", "charges on my invoices", "billing"),  # plurals
        ("", "the app keeps crashing with an error", "technical"),  # -ing form
        ("", "Logging in fails, password rejected", "account"),  # phrase with inflection
        ("", "see INV-2231", "billing"),  # pattern term
        ("", "How do I change my plan?", "general"),
    ],
)
def test_category_follows_weighted_keywords(subject, body, category):
    assert classify(RULES, subject, body).category == category


def test_word_boundaries_are_respected():
    # "prefund" and "errors-free" are not "refund"/"error"? "errors" is a plural, "terror" is not.
    result = classify(RULES, "", "terror at the prefunding stage")
    assert result.category == "general" and result.matched_keywords == []


def test_a_ticket_with_no_signal_gets_general_with_low_confidence_and_says_so():
    result = classify(RULES, "", "Lorem nothing relevant here")
    assert result.category == "general"
    assert result.confidence == 0.2
    assert "no category keyword matched" in result.explanation["note"]


def test_empty_ticket_returns_every_field():
    result = classify(RULES, "", "")
    assert result.category == "general" and result.priority == "medium" and result.sentiment == "neutral"
    assert 0 <= result.risk <= 1 and result.summary == "" and result.suggested_reply
    assert result.entities == {k: [] for k in ("order_ids", "error_codes", "emails", "phones", "amounts", "urls")}


def test_keywords_pointing_to_two_categories_pick_the_heavier_and_lower_confidence():
    both = classify(RULES, "", "refund for the error")  # billing 2 vs technical 1
    one = classify(RULES, "", "refund please")
    assert both.category == "billing"
    assert both.explanation["scores"] == {"technical": 1.0, "billing": 2.0}
    assert both.confidence < one.confidence


def test_subject_keywords_weigh_more_than_body_keywords():
    assert classify(RULES, "Error on page", "also a charge").category == "technical"
    assert classify(RULES, "", "Error on page, also a charge").category == "technical"  # tie: first in order


def test_confidence_is_between_zero_and_one():
    for text in ("refund refund charge invoice password error", "x", "refund"):
        assert 0.0 <= classify(RULES, "", text).confidence <= 1.0


@pytest.mark.parametrize(
    ("text", "declared", "priority"),
    [
        ("The site is down for everyone, outage since 9am", "", "critical"),
        ("We lost data after the import: data loss!", "", "critical"),
        ("URGENT: I cannot log in", "", "high"),
        ("Just wondering how do I export", "", "low"),
        ("Question about invoices", "", "medium"),
        ("Question about invoices", "high", "high"),  # the customer's own priority counts
        ("Question about invoices", "critical", "high"),  # …but "critical" alone is trusted only as far as high
        ("Site is down", "low", "critical"),  # cues win over a lower declared priority
    ],
)
def test_priority_comes_from_urgency_cues_and_declared_priority(text, declared, priority):
    assert classify(RULES, "", text, declared_priority=declared).priority == priority


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("This is unacceptable.", "negative"),
        ("I am frustrated and angry about this", "negative"),
        ("WHY IS THIS STILL BROKEN!!!", "negative"),
        ("Thank you so much, great service!", "positive"),
        ("I'm not happy with the refund", "negative"),
        ("Not bad at all, I love it", "positive"),
        ("Please send the invoice.", "neutral"),
    ],
)
def test_sentiment_uses_lexicon_negation_exclamations_and_capitals(text, sentiment):
    assert classify(RULES, "", text).sentiment == sentiment


def test_risk_combines_priority_sentiment_and_risk_words():
    calm = classify(RULES, "", "Please send the invoice")
    legal = classify(RULES, "", "This is unacceptable, my lawyer will hear about the fraud. Outage!")
    assert calm.risk < 0.3
    assert legal.risk == 1.0
    assert set(legal.explanation["risk_factors"]) == {"legal", "security"}


def test_entities_are_extracted():
    text = (
        "Order #A12345 failed with ERR_CONNECTION_RESET and error code 0x80070005. I paid $49.99 and 12.50 EUR. "
        "Call me on +1 415-555-0134 or mail jane.doe@example.com, see https://shop.example.com/orders/1."
    )
    entities = classify(RULES, "", text).entities
    assert entities["order_ids"] == ["A12345"]
    assert "ERR_CONNECTION_RESET" in entities["error_codes"] and "0x80070005" in entities["error_codes"]
    assert entities["amounts"] == ["$49.99", "12.50 EUR"]
    assert entities["phones"] == ["+1 415-555-0134"]
    assert entities["emails"] == ["jane.doe@example.com"]
    assert entities["urls"] == ["https://shop.example.com/orders/1"]


def test_summary_uses_the_tickets_own_sentences_without_greetings():
    body = "Hi team,\nI was charged twice for my order. The second charge is $20. Also the app is slow. Thanks!"
    assert classify(RULES, "", body).summary == "I was charged twice for my order. The second charge is $20."


def test_suggested_reply_uses_the_category_template_and_entities():
    result = classify(RULES, "", "Refund $20.00 for order #99881 please", customer_name="Ana")
    assert result.suggested_reply == "Hi Ana, about $20.00 on order 99881."


def test_critical_tickets_route_to_escalation():
    result = classify(RULES, "", "Refund system is down, outage!")
    assert result.category == "billing" and result.priority == "critical" and result.team == "escalation"


def test_html_is_stripped_and_script_content_ignored():
    result = classify(RULES, "<b>Refund</b>", "<script>password()</script><p>Please &amp; thanks</p>")
    assert result.category == "billing"
    assert "password" not in result.matched_keywords
    assert "<" not in result.summary and "&amp;" not in result.summary


def test_non_english_text_does_not_crash_and_falls_back():
    result = classify(RULES, "Problème de connexion", "Je ne peux pas me connecter à mon compte 😞 ¿Qué pasa? 请帮忙")
    assert result.category == "general" and result.summary


def test_huge_text_is_bounded():
    result = classify(RULES, "refund", "word " * 200_000)
    assert result.category == "billing" and len(result.summary) <= 240


@pytest.mark.parametrize("term", ["", "   ", "re:(", "re:a*", "!!!", "one two three four five six seven"])
def test_unusable_terms_are_refused(term):
    with pytest.raises(KeywordError):
        parse_term(term)


def test_a_bad_term_in_the_taxonomy_is_skipped_not_raised():
    rules = compile_rules([CategorySpec("general", "frontline", [("re:[", 1.0), ("hello", 1.0)])])
    assert rules.skipped == [("general", "re:[", "invalid pattern: unterminated character set at position 0")]
    assert classify(rules, "", "hello").matched_keywords == ["hello"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("charge", "charged"),
        ("charge", "charging"),
        ("refund", "refunds"),
        ("reply", "replies"),
        ("log", "logging"),
        ("crash", "crashes"),
    ],
)
def test_inflections_share_a_stem(a, b):
    assert stem(a) == stem(b)
