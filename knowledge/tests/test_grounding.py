from __future__ import annotations

import json

import pytest

from knowledge import grounding
from knowledge.grounding import CitationError, Source
from knowledge.tests.factories import article

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def base():
    return {
        "refunds": article(
            "Refunds",
            "## Refund window\n\nWe refund any charge within 30 days.\n\n"
            "## Double charges\n\nA duplicate charge is refunded automatically within five days. "
            "Send us the dates of both charges if it is not.",
        ),
        "login": article(
            "Logging in",
            "## Lost your 2FA device\n\nUse a recovery code, or ask support to reset two-factor authentication.",
        ),
    }


def _source(number: int, article_id: int = 1, text: str = "Some text.", **fields) -> Source:
    values = {
        "article_title": f"Article {article_id}",
        "chunk_id": 100 + number,
        "heading": "",
        "page": None,
        "score": 1.0 / number,
    }
    return Source(number=number, article_id=article_id, text=text, **{**values, **fields})


def test_retrieve_numbers_the_best_chunks_from_one_with_their_article(base):
    sources = grounding.retrieve("Charged twice", "I see a duplicate charge on my card, can I get a refund?")
    assert [s.number for s in sources] == list(range(1, len(sources) + 1)) and len(sources) >= 2
    best = sources[0]
    assert best.heading == "Double charges" and best.article_id == base["refunds"].pk
    assert best.article_title == "Refunds" and best.rank == 1 and best.category == ""
    assert best.chunk_id in set(base["refunds"].chunks.values_list("pk", flat=True))
    assert sources[0].score >= sources[-1].score


def test_retrieve_takes_at_most_kb_top_k_and_none_when_it_is_zero(base, settings, django_assert_num_queries):
    settings.KB_TOP_K = 1
    assert len(grounding.retrieve("refund", "duplicate charge refund")) == 1
    settings.KB_TOP_K = 0
    with django_assert_num_queries(0):
        assert grounding.retrieve("refund", "duplicate charge refund") == []
    assert len(grounding.retrieve("refund", "duplicate charge refund", k=2)) == 2


def test_the_prompt_block_numbers_each_source_and_is_empty_without_sources():
    block = grounding.prompt_block([_source(1, page=3, heading="Fees"), _source(2, article_id=2)])
    assert block.startswith("<sources>") and block.endswith("</sources>")
    entries = json.loads(block.removeprefix("<sources>").removesuffix("</sources>"))
    assert [e["number"] for e in entries] == [1, 2]
    assert entries[0] == {"number": 1, "article": "Article 1", "section": "Fees", "page": 3, "text": "Some text."}
    assert grounding.prompt_block([]) == ""


def test_valid_citations_give_the_cited_sources_once_in_the_order_cited():
    sources = [_source(1), _source(2), _source(3)]
    assert [s.number for s in grounding.validate_citations([3, 1, 3], sources)] == [3, 1]
    assert grounding.validate_citations([], sources) == []


@pytest.mark.parametrize("cited", [[4], [0], [-1], [1, 9], ["1"], [True], [1.0]])
def test_a_citation_of_a_source_not_given_is_an_error(cited):
    with pytest.raises(CitationError, match="not one it was given"):
        grounding.validate_citations(cited, [_source(1), _source(2), _source(3)])


def test_any_citation_without_sources_is_an_error():
    with pytest.raises(CitationError, match="given: none"):
        grounding.validate_citations([1], [])


def test_the_fallback_reply_quotes_the_best_passage_and_names_the_other_articles():
    sources = [
        _source(1, 1, "A duplicate charge is refunded within five days. Send us the dates.", heading="Charged twice"),
        _source(2, 1, "Other passage of the same article."),
        _source(3, 2, "Recovery codes."),
        _source(4, 3, "Exports."),
        _source(5, 4, "Fourth article, not named."),
    ]
    reply = grounding.fallback_reply(sources)
    assert reply.startswith('From our help centre ("Article 1 › Charged twice"): "A duplicate charge is refunded')
    assert 'See also: "Article 2"; "Article 3".' in reply and "Article 4" not in reply
    assert [s.number for s in grounding.fallback_citations(sources)] == [1, 3, 4]
    assert grounding.fallback_reply([]) == "" and grounding.fallback_citations([]) == []


def test_the_quote_keeps_whole_sentences_within_its_length():
    long = _source(1, text="First sentence here. " + "Second one is much longer " * 20 + ".")
    assert grounding.quote(long, limit=60) == "First sentence here."
    one_long_sentence = _source(1, text="word " * 100)
    quoted = grounding.quote(one_long_sentence, limit=50)
    assert quoted.endswith("…") and len(quoted) <= 51
    assert grounding.quote(_source(1, text="Short.\n\nText.")) == "Short. Text."


def test_a_pdf_source_is_labelled_with_its_page():
    assert _source(1, heading="Fees", page=4).label() == "Article 1 › Fees (page 4)"
    assert _source(1, heading="Article 1").label() == "Article 1"


def test_retrieve_many_answers_each_ticket_in_order_in_a_few_queries(base, django_assert_max_num_queries):
    tickets = [("Charged twice", "duplicate charge refund"), ("", "the of and"), ("2FA", "lost my 2FA device")] * 60
    # 120 to search: the words' counts (SQLite: one statement; PostgreSQL: the stems, and pg_stats' common lexemes
    # read at most every five minutes), two search statements of at most 100, one read of the chunks.
    with django_assert_max_num_queries(6):
        found = grounding.retrieve_many(tickets)
    assert len(found) == 180 and found[1] == []
    assert found[0][0].heading == "Double charges" and found[2][0].article_id == base["login"].pk
    assert found[177] == found[0] and found[179] == found[2]
    assert found[0] == grounding.retrieve(*tickets[0])


def test_the_fallback_reply_uses_only_articles_of_the_tickets_category_or_of_none():
    sources = [
        _source(1, 1, "Two-factor recovery.", category="account"),
        _source(2, 2, "Refund window.", category="billing"),
        _source(3, 3, "Uploaded handbook, no category."),
    ]
    assert [s.number for s in grounding.fallback_citations(sources, "billing")] == [2, 3]
    assert grounding.fallback_reply(sources, "billing").startswith('From our help centre ("Article 2")')
    assert [s.number for s in grounding.fallback_citations(sources, "general")] == [3]
    assert grounding.fallback_reply(sources[:2], "general") == ""
    assert [s.number for s in grounding.fallback_citations(sources)] == [1, 2, 3]  # no category: any article
