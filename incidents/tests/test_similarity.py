"""The re-ranking of similar tickets (`incidents.similarity.rerank`): pure, deterministic, no database.

The reworded pairs are BANKING77 training rows ("BANKING77 by PolyAI (Casanueva et al., 2020), CC BY 4.0"):
in each, the candidate sharing the most characters with the query has another intent."""

from __future__ import annotations

import pytest

from classification.learned import embeddings as word_embeddings
from incidents import similarity
from incidents.similarity import Candidate

REWORDED = [
    (
        "Can you tell me what this fee is on my statement?",
        "Can you tell me what the cash withdrawal is in my statement?",  # cash_withdrawal_not_recognised
        "Why does my statement show an extra fee?",  # extra_charge_on_statement, as the query
    ),
    (
        "I was made to pay an additional pound!",
        "Would I have to pay anything if I need an additional card?",  # getting_spare_card
        "I was overcharged a pound.",  # extra_charge_on_statement, as the query
    ),
]


@pytest.mark.parametrize(("query", "lexical", "same_intent"), REWORDED)
def test_a_reworded_same_intent_ticket_outranks_a_lexically_closer_other_one(
    query: str, lexical: str, same_intent: str
) -> None:
    candidates = [Candidate(1, lexical), Candidate(2, same_intent)]

    ranked = similarity.rerank(query, candidates)
    characters_only = similarity.rerank(query, candidates, embedding_weight=0.0)

    assert [pk for pk, _ in ranked] == [2, 1]
    assert [pk for pk, _ in characters_only] == [1, 2]  # what the embeddings changed
    # The order is the score's (the pages sort the stored links by it), and the score is 0..1.
    assert ranked[0][1] > ranked[1][1]
    assert all(0.0 <= score <= 1.0 for _, score in ranked + characters_only)


def test_the_score_is_the_weighted_sum_of_the_two_cosines() -> None:
    query, lexical, same_intent = REWORDED[0]
    candidates = [Candidate(1, lexical), Candidate(2, same_intent)]

    characters = dict(similarity.rerank(query, candidates, embedding_weight=0.0))
    embeddings = dict(similarity.rerank(query, candidates, embedding_weight=1.0))
    fused = dict(similarity.rerank(query, candidates, embedding_weight=0.7))

    for pk in (1, 2):
        assert fused[pk] == pytest.approx(0.3 * characters[pk] + 0.7 * embeddings[pk], abs=2e-4)
    assert similarity.EMBEDDING_WEIGHT == 0.7


def test_an_identical_text_scores_one_and_an_unrelated_one_far_less() -> None:
    candidates = [
        Candidate(7, "The ATM swallowed my card"),
        Candidate(8, "the ATM swallowed my card"),
        Candidate(9, "What are your opening hours in Berlin?"),
    ]

    ranked = dict(similarity.rerank("The ATM swallowed my card", candidates))

    assert ranked[7] == 1.0
    assert 0.95 < ranked[8] < 1.0  # the word vectors tell cases apart, the character n-grams do not
    assert ranked[9] < 0.2


def test_it_is_deterministic_and_keeps_the_given_order_on_ties() -> None:
    candidates = [Candidate(3, "refund not received"), Candidate(4, "refund not received"), Candidate(5, "pin")]

    first = similarity.rerank("where is my refund", candidates)

    assert first == similarity.rerank("where is my refund", candidates)
    assert [pk for pk, _ in first][:2] == [3, 4]


def test_the_category_boost_reorders_but_does_not_change_scores() -> None:
    query, lexical, same_intent = REWORDED[0]
    candidates = [Candidate(1, lexical, "billing"), Candidate(2, same_intent, "account")]

    boosted = similarity.rerank(query, candidates, category="billing", category_boost=0.5)

    assert [pk for pk, _ in boosted] == [1, 2]
    assert dict(boosted) == dict(similarity.rerank(query, candidates))
    assert similarity.CATEGORY_BOOST == 0.0  # the worker's default: no boost (docs/SIMILARITY.md)


def test_without_the_embedding_wheel_the_score_is_the_character_cosine(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> word_embeddings.WordEmbeddings:
        raise word_embeddings.EmbeddingsUnavailable("the wordllama wheel is not installed")

    monkeypatch.setattr(word_embeddings, "load", unavailable)
    query, lexical, same_intent = REWORDED[0]

    candidates = [Candidate(1, lexical), Candidate(2, same_intent)]

    ranked = similarity.rerank(query, candidates)

    assert [pk for pk, _ in ranked] == [1, 2]
    assert ranked == similarity.rerank(query, candidates, embedding_weight=0.0)


def test_nothing_to_compare_gives_nothing() -> None:
    assert similarity.rerank("refund", []) == []
    assert similarity.rerank("   ", [Candidate(1, "refund")]) == []
    assert similarity.rerank("?!", [Candidate(1, "...")]) != []  # punctuation still has n-grams
