from __future__ import annotations

from knowledge.chunking import PAGE_BREAK, Piece, chunk


def test_each_heading_starts_a_chunk_and_text_before_the_first_goes_under_the_title():
    body = "Intro line.\n\n## Refund window\n\nWithin 30 days.\n\n## How to ask\n\n- Open billing\n- Click refund\n"
    assert chunk(body, title="Refunds") == [
        Piece("Refunds", "Intro line."),
        Piece("Refund window", "Within 30 days."),
        Piece("How to ask", "- Open billing\n\n- Click refund"),
    ]


def test_a_heading_without_text_makes_no_chunk():
    assert chunk("# Title\n\n## Empty\n\n## Full\n\nText.", title="T") == [Piece("Full", "Text.")]


def test_long_sections_split_at_paragraphs_then_sentences_then_words():
    paragraphs = "\n\n".join(f"Paragraph {n} " + "word " * 30 for n in range(10))
    pieces = chunk(f"## Long\n\n{paragraphs}", limit=400)
    assert len(pieces) > 2 and all(len(p.text) <= 400 and p.heading == "Long" for p in pieces)
    assert " ".join(p.text for p in pieces).split() == paragraphs.split()

    sentence = "One sentence. " * 100
    assert all(len(p.text) <= 300 for p in chunk(sentence, limit=300))
    assert [len(p.text) for p in chunk("x" * 650, limit=300)] == [300, 300, 50]


def test_form_feeds_are_pages_and_chunks_keep_their_page():
    pieces = chunk(f"First page text.{PAGE_BREAK}Second page.{PAGE_BREAK}{PAGE_BREAK}Fourth.", title="Guide")
    assert [(p.text, p.page) for p in pieces] == [("First page text.", 1), ("Second page.", 2), ("Fourth.", 4)]
    assert all(p.page is None for p in chunk("No pages here."))


def test_code_blocks_are_kept_and_empty_bodies_have_no_chunks():
    assert chunk("## Export\n\n```\ncurl /api/export\n```\n") == [Piece("Export", "curl /api/export")]
    assert chunk("") == [] and chunk("   \n\n") == []
