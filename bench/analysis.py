"""Analysis runs: `make bench-analysis`. Prints figures and writes bench/results/analysis.json (SQLite) or
bench/results/analysis-postgresql.json (BENCH_DB=postgresql://…).

1. Themes on BANKING77 (../shared/data): the 13,083 queries as documents, the product's clustering
   (analysis.themes) against the 77 intents: purity (share of themed tickets whose intent is their theme's
   most common one) and coverage (share in a theme); beside it the issue's baseline (word TF-IDF, SVD 200,
   k-means k=77, everything covered).
2. Runs of 10,000 and 100,000 tickets (BANKING77 texts, classified, over 7 days, plus a fifth as many the
   week before) on their own SQLite file or a dedicated PostgreSQL database (its tickets are emptied), by a
   real Celery worker: `celery -A supportintel worker -Q analysis --pool prefork -c 2` on the configured
   broker (Redis with BENCH_REDIS, the embedded one otherwise). The run is started as the dashboard starts
   it (services.start_run publishes the plan); the worker's two processes take the plan, the map chunks and
   the reduce from the `analysis` queue. Measured: wall time from start to completed, and the resident
   memory of the worker's processes (sampled from /proc every 0.2 s): the peak of the whole worker, of its
   largest process while chunks are mapped (what a map holds), and of its largest process overall (the
   reduce, clustering the bounded sample). No LLM.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "banking77_support_queries.csv"
RESULTS = ROOT / "bench" / "results" / "analysis.json"
SIZES = [int(n) for n in os.environ.get("BENCH_ANALYSIS_SIZES", "10000,100000").split(",") if n]


def _banking77() -> list[dict[str, str]]:
    with DATA.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _purity(labels: list[int], truth: list[str]) -> tuple[float, float]:
    themed = [(label, intent) for label, intent in zip(labels, truth, strict=True) if label >= 0]
    by_theme: dict[int, Counter[str]] = {}
    for label, intent in themed:
        by_theme.setdefault(label, Counter())[intent] += 1
    majority = sum(counter.most_common(1)[0][1] for counter in by_theme.values())
    return round(majority / len(themed), 3), round(len(themed) / len(truth), 3)


def _product_on(rows: list[dict[str, str]], embeddings: bool = True) -> dict[str, Any]:
    from analysis import themes

    started = time.perf_counter()
    found = themes.find([themes.Document(i, row["text"]) for i, row in enumerate(rows)], embeddings=embeddings)
    seconds = time.perf_counter() - started
    purity, coverage = _purity(found.assignment, [row["intent"] for row in rows])
    return {
        "documents": len(rows),
        "purity": purity,
        "coverage": coverage,
        "themes": found.about["themes"],
        "clusters_before_noise": themes._theme_count(len(rows)),
        "seconds": round(seconds, 1),
    }


def themes_on_banking77() -> dict[str, Any]:
    """The product's themes on the whole set, and on each of its splits alone: the design was chosen on the
    train split (10,003 queries); the test split (3,080) was not looked at while choosing."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    from classification.learned import embeddings

    rows = _banking77()
    texts, intents = [row["text"] for row in rows], [row["intent"] for row in rows]
    product = _product_on(rows)
    splits = {split: [row for row in rows if row["split"] == split] for split in ("train", "test")}
    started = time.perf_counter()
    vectors = normalize(TruncatedSVD(200, random_state=0).fit_transform(TfidfVectorizer().fit_transform(texts)))
    baseline = KMeans(77, n_init=1, random_state=0).fit(vectors).labels_
    baseline_seconds = time.perf_counter() - started
    base_purity, base_coverage = _purity(np.asarray(baseline).tolist(), intents)
    try:
        features = f"wordllama {embeddings.load().provenance.version} embeddings + TF-IDF"
    except embeddings.EmbeddingsUnavailable:
        features = "TF-IDF alone (no wordllama wheel)"
    return {
        "documents": len(texts),
        "features": features,
        "product": product,
        # The same code without the embeddings (TF-IDF alone, as before them), side by side.
        "product_tfidf_alone": _product_on(rows, embeddings=False),
        "product_train_split_alone": _product_on(splits["train"]),
        "product_test_split_alone": _product_on(splits["test"]),
        "product_test_split_alone_tfidf_alone": _product_on(splits["test"], embeddings=False),
        "baseline_tfidf_svd200_kmeans77": {
            "purity": base_purity,
            "coverage": base_coverage,
            "seconds": round(baseline_seconds, 1),
        },
    }


def _empty_tickets() -> None:
    from django.db import connection

    from tickets.models import Ticket

    if connection.vendor == "postgresql":  # a dedicated database: faster than collecting 100,000 rows to delete
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Ticket._meta.db_table} RESTART IDENTITY CASCADE")
    else:
        Ticket.objects.all().delete()


def _fill(count: int) -> None:
    from django.utils import timezone

    from tickets.models import Ticket

    _empty_tickets()
    rows = _banking77()
    rng = random.Random(18)
    now = timezone.now()
    batch = []
    for number in range(count + count // 5):
        row = rows[number % len(rows)]
        days = rng.uniform(0, 7) if number < count else rng.uniform(7, 14)  # a fifth in the week before
        batch.append(
            Ticket(
                subject=row["text"][:80],
                body=row["text"],
                status="classified",
                category=row["proposed_category"],
                priority=rng.choice(["critical", "high", "medium", "low"]),
                sentiment=rng.choice(["negative", "neutral", "positive"]),
                risk=round(rng.random(), 3),
                team="frontline",
                classification_source="keyword",
                channel=rng.choice(["email", "chat", "web"]),
                created=now - timedelta(days=days, hours=1),
            )
        )
        if len(batch) == 10_000:
            Ticket.objects.bulk_create(batch)
            batch = []
    Ticket.objects.bulk_create(batch)


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _family(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for child in children for p in _family(int(child)))]


def run_on_a_worker(count: int) -> dict[str, Any]:
    from django.utils import timezone

    from analysis import services
    from analysis.models import AnalysisRun, Trigger

    _fill(count)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportintel", "worker", "-Q", "analysis", "-c", "2",
         "--pool", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
        cwd=ROOT,
    )  # fmt: skip
    try:
        time.sleep(5)  # the worker's processes up before the clock starts
        today = timezone.localdate()
        started = time.perf_counter()
        run = services.start_run(today - timedelta(days=7), today, trigger=Trigger.COMMAND)
        peak, peak_one, peak_map = 0, 0, 0
        while not run.is_finished:
            time.sleep(0.2)
            family = _family(worker.pid)
            one = max(_rss_kib([pid]) for pid in family)
            peak, peak_one = max(peak, _rss_kib(family)), max(peak_one, one)
            run = AnalysisRun.objects.get(pk=run.pk)
            if run.reduce_claimed is None and not run.is_finished:
                peak_map = max(peak_map, one)
        seconds = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return {
        "tickets": count,
        "status": run.status,
        "seconds": round(seconds, 1),
        "chunks": run.chunks_total,
        "processed": run.processed,
        "themes": len(run.results.get("themes", [])),
        "clustered": run.results.get("clustering", {}),
        "peak_rss_mib_worker_total": round(peak / 1024),
        "peak_rss_mib_one_process_while_mapping": round(peak_map / 1024),
        "peak_rss_mib_one_process": round(peak_one / 1024),
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    figures: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": connection.vendor,
        "broker": settings.CELERY_BROKER_URL.split("://")[0],
        "worker": "celery -A supportintel worker -Q analysis --pool prefork -c 2",
        "cpus": os.cpu_count(),
        "chunk_size": settings.ANALYSIS_CHUNK_SIZE,
        "theme_sample": settings.ANALYSIS_THEME_SAMPLE,
        "banking77": themes_on_banking77(),
    }
    print(json.dumps(figures["banking77"], indent=2), flush=True)
    figures["runs"] = []
    for count in SIZES:
        result = run_on_a_worker(count)
        print(json.dumps(result), flush=True)
        figures["runs"].append(result)
    results = RESULTS if connection.vendor == "sqlite" else RESULTS.with_name(f"analysis-{connection.vendor}.json")
    results.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
