"""Terms for the way people write bug reports, feature requests and how-to questions on public trackers and
support forms (steps to reproduce, expected and actual behaviour, stack traces; "it would be nice", "add
support for"; "how do I", "is there a way to"). Written from how such reports read, not learned from any
evaluation file. Only terms a category does not hold yet are added, so an admin's edits are kept."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from classification.migrations import _terms

W = 2.0  # a phrase that alone says what the ticket is
TERMS: dict[str, list[tuple[str, float]]] = {
    "bug_report": [
        ("expected behavior", W),
        ("expected behaviour", W),
        ("actual behavior", W),
        ("actual behaviour", W),
        ("expected result", W),
        ("to reproduce", W),
        ("repro steps", W),
        ("stack trace", W),
        ("stacktrace", W),
        ("traceback", W),
        ("re:\\b\\w+(?:exception|error)\\b:", 1.5),  # "NullPointerException:", "TypeError:"
        ("exception", 1.0),
        ("throws", 1.0),
        ("crashes when", 1.5),
        ("fails when", 1.5),
        ("error when", 1.0),
        ("is broken", 1.0),
        ("no longer works", 1.5),
        ("stopped working after", 1.5),
        ("worked before", 1.5),
        ("used to work", 1.5),
        ("reproducible", 1.5),
        ("minimal example", 1.5),
        ("segfault", 1.5),
        ("memory leak", 1.5),
        ("wrong output", 1.5),
        ("instead of", 0.5),
    ],
    "feature_request": [
        ("add support for", W),
        ("support for", 1.0),
        ("it would be nice", W),
        ("would be great if", W),
        ("would it be possible to add", W),
        ("nice to have", W),
        ("consider adding", W),
        ("add an option", W),
        ("add the ability", W),
        ("allow users to", 1.5),
        ("should be able to", 1.5),
        ("make it possible", 1.5),
        ("provide a way", 1.5),
        ("new option", 1.0),
        ("configurable", 1.0),
        ("proposal", 1.0),
        ("propose", 1.0),
        ("request", 0.5),
        ("implement", 0.5),
    ],
    "general": [
        ("is there a way", 1.5),
        ("is there any way", 1.5),
        ("how would i", 1.0),
        ("how should i", 1.0),
        ("what is the best way", 1.5),
        ("what's the best way", 1.5),
        ("can someone explain", 1.5),
        ("any idea", 1.0),
        ("how does", 1.0),
        ("how do you", 1.0),
        ("is it possible to", 1.0),
        ("am i able to", 1.0),
        ("can you tell me", 1.0),
        ("i want to know", 1.0),
        ("i'd like to know", 1.0),
        ("usage", 0.5),
        ("example", 0.5),
    ],
}


def add_terms(apps: Any, schema_editor: Any) -> None:
    _terms.add_terms(apps, TERMS)


def remove_terms(apps: Any, schema_editor: Any) -> None:
    _terms.remove_terms(apps, TERMS)


class Migration(migrations.Migration):
    dependencies = [("classification", "0008_learned_model")]

    operations = [migrations.RunPython(add_terms, remove_terms)]
