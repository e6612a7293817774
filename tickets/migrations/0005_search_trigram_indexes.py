"""Trigram indexes for the free-text search on PostgreSQL (subject and body): a rare word from the index
instead of a scan of every ticket (3.5 s to under 1 ms at a million tickets, see README, Benchmarks).
How they are built is in `_trigram.py`."""

from __future__ import annotations

from django.db import migrations

from tickets.migrations._trigram import operations

create_indexes, drop_indexes = operations({"ticket_subject_trgm_idx": "subject", "ticket_body_trgm_idx": "body"})


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0004_covering_status_index"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
