"""What grounding costs the classification of a chunk: the keyword chain (no LLM) over chunks of demo tickets
with the demo knowledge base, KB_TOP_K=5 (sources retrieved, the reply quotes them, citations stored) and
KB_TOP_K=0 (grounding off) side by side, alternating chunk by chunk on the same database; and the retrieval
alone (`knowledge.grounding.retrieve_many`) for a chunk.

    make bench-grounding                         # the embedded SQLite
    make bench-grounding BENCH_DB=postgresql://… # PostgreSQL

Results: bench/results/grounding-<database>.json. Figures are medians over the chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _tickets(count: int) -> list[int]:
    from tickets import demo
    from tickets.models import Ticket

    rng = random.Random(17)
    kinds = rng.choices(list(demo.MIX), weights=list(demo.MIX.values()), k=count)
    made = Ticket.objects.bulk_create([Ticket(**demo.demo_ticket(kind, rng)) for kind in kinds], batch_size=500)
    return [ticket.pk for ticket in made]


def _ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


def run(chunks: int, chunk_size: int) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from classification import services
    from classification.models import Citation, Classification
    from knowledge import demo as knowledge_demo
    from knowledge import grounding
    from tickets.models import Ticket

    call_command("migrate", verbosity=0)
    Ticket.objects.all().delete()
    knowledge_demo.load()
    ids = _tickets(2 * chunks * chunk_size)
    batches = [ids[n : n + chunk_size] for n in range(0, len(ids), chunk_size)]
    services.classify_tickets(batches[0][:2])  # rules compiled, connections warm
    timings: dict[int, list[float]] = {5: [], 0: []}
    for n, batch in enumerate(batches):
        k = 5 if n % 2 == 0 else 0
        settings.KB_TOP_K = k
        started = time.perf_counter()
        services.classify_tickets(batch)
        timings[k].append(time.perf_counter() - started)
    settings.KB_TOP_K = 5
    texts = list(Ticket.objects.filter(pk__in=ids[:chunk_size]).values_list("subject", "body"))
    retrieval = []
    for _ in range(chunks):
        started = time.perf_counter()
        grounding.retrieve_many(texts)
        retrieval.append(time.perf_counter() - started)
    grounded = Classification.objects.filter(ticket_id__in=ids, citations__isnull=False).distinct().count()
    on, off = _ms(timings[5]), _ms(timings[0])
    return {
        "database": connection.vendor,
        "chunk_size": chunk_size,
        "chunks_each": chunks,
        "classify_chunk_ms": {"grounded": on, "grounding_off": off, "ratio": round(on / off, 2)},
        "per_ticket_ms": {"grounded": round(on / chunk_size, 2), "grounding_off": round(off / chunk_size, 2)},
        "retrieve_many_chunk_ms": _ms(retrieval),
        "grounded_share": round(grounded / (chunks * chunk_size), 3),
        "citations": Citation.objects.filter(classification__ticket_id__in=ids).count(),
        "runs": {"grounded_s": timings[5], "grounding_off_s": timings[0]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10, help="chunks classified each way (default 10)")
    parser.add_argument("--chunk-size", type=int, default=100, help="tickets per chunk (CLASSIFY_CHUNK_SIZE)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    import django

    django.setup()
    result = run(args.chunks, args.chunk_size)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"grounding-{result['database']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: value for key, value in result.items() if key != "runs"}, indent=2))  # the report


if __name__ == "__main__":
    main()
