"""Bodies built against backtracking regexes (long runs, unclosed tags) get the same answers as normal
text: the PII mask and the entity patterns stay correct on them. Their speed is measured in bench/regex.py."""

from __future__ import annotations

import re

import pytest

from classification import keywords
from classification.keywords import clean_text, email_spans, extract_entities, mask_pii

RUN = 100_000
# What the mask and the extraction used before they were made linear: their answers must not change.
PLAIN_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.mark.parametrize(
    "text",
    [
        "jane.doe@example.com",
        "write to a@b.io_c@d.io or e@f.io",  # a match may start right where the previous one ended
        "x@y.com.z@w.org",
        "a@b.c@d.ee",
        "..@@x.io a@@b.cc a@b@c.dd",
        "first.last+tag@sub.example.org; x@y.com.",
        "@" * 50 + "a@b.cc" + "@" * 50,
        "a." * 500 + "@x.io",
        "x@" + "a." * 500,
        "a" * 5_000 + "@" + "b" * 5_000,
    ],
)
def test_email_spans_are_what_the_plain_pattern_finds(text):
    assert list(email_spans(text)) == [match.span() for match in PLAIN_EMAIL.finditer(text)]


@pytest.mark.parametrize("unit", ["a", "1", "a.", "a_b%c+d-", "a@"])
def test_a_long_run_without_personal_data_is_left_as_it_is(unit):
    text = (unit * RUN)[:RUN]
    assert mask_pii(text) == text


def test_personal_data_after_a_long_run_is_still_masked():
    text = "a" * RUN + " mail jane@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958"
    assert mask_pii(text) == "a" * RUN + " mail [EMAIL], card [CARD], call [PHONE]"


def test_a_run_that_ends_in_an_address_is_one_address():
    assert mask_pii("a." * 1_000 + "a@example.com and more") == "[EMAIL] and more"


def test_adjacent_addresses_are_both_masked():
    assert mask_pii("a@b.io_c@d.io") == "[EMAIL][EMAIL]"


def test_entities_after_hostile_runs_are_found():
    text = "order" + " " * 7_000 + "#A12345 and " + "1," * 300 + "! then 5 usd; error code:" + " " * 300 + "E4012"
    entities = extract_entities(text)
    assert entities["order_ids"] == ["A12345"]
    assert entities["amounts"] == ["5 usd"]
    assert entities["error_codes"] == ["E4012"]


def test_a_long_comma_run_before_a_currency_is_not_an_amount():
    assert extract_entities("1," * 4_000 + "! usd")["amounts"] == []


def test_error_words_and_dashes_find_no_code():
    assert extract_entities("error-" * 1_400)["error_codes"] == []


def test_unclosed_script_tags_keep_the_text_and_closed_blocks_are_dropped():
    text = "<script>" * 900 + "my order is late"
    assert clean_text(text).split() == ["my", "order", "is", "late"]
    html = "<p>Hi</p><STYLE type='text/css'>p{}</STYLE ><script src=x>alert(1)</SCRIPT>bye<style>unclosed"
    assert clean_text(html).split() == ["Hi", "bye", "unclosed"]


def test_a_script_left_open_does_not_stop_a_later_style_block_from_being_dropped():
    assert keywords.text._drop_scripts_and_styles("<script>a <style>b</style> c").split() == ["<script>a", "c"]
