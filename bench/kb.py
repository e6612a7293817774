"""Knowledge-base search at 10,000 articles: `make bench-kb` (embedded SQLite) or
`make bench-kb BENCH_DB=postgresql://…/<bench db>`.

Bulk-generates realistic articles once (help-centre pages: a product area, a task, three or four sections of
steps, limits and troubleshooting, written from templates with varied vocabulary), chunked and embedded the
way an import does, beside the 27 demo articles; later runs reuse them. Then times `knowledge.retrieval.search`
(what the API, the grounding and the gap report call) for the labeled set's 115 customer questions, several
passes, with the product's settings and with full text alone, and the API endpoint through Django's test
client; prints p50/p95 and writes bench/results/kb-<database>.json. It also reports the labeled set's recall
with the 10,000 generated articles as distractors."""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
ARTICLES = int(os.environ.get("BENCH_KB_ARTICLES", "10000"))
PASSES = 3
BATCH = 500

PRODUCTS = [
    "Expense cards",
    "Payroll",
    "Invoicing",
    "Payment links",
    "Bank feeds",
    "Ledger",
    "Subscriptions",
    "Multi-currency wallets",
    "Payouts",
    "Reports",
    "Approvals",
    "Receipts",
    "Team spaces",
    "Mobile app",
    "Public API",
    "Webhooks",
    "Accounting sync",
    "Tax engine",
    "Vendor portal",
    "Budgets",
    "Reimbursements",
    "Direct debit",
    "Card controls",
    "Audit log",
    "Data warehouse export",
]
TASKS = [
    ("set up", "Setting up"),
    ("configure limits for", "Limits in"),
    ("troubleshoot", "Troubleshooting"),
    ("migrate to", "Migrating to"),
    ("secure", "Security settings for"),
    ("automate", "Automation rules in"),
    ("reconcile", "Reconciling"),
    ("export from", "Exporting from"),
    ("share", "Sharing and permissions in"),
    ("archive data in", "Archiving in"),
    ("customise notifications for", "Notifications from"),
    ("understand fees in", "Fees and pricing of"),
]
ROLES = ["owners", "admins", "finance managers", "approvers", "accountants", "team members", "auditors"]
PLACES = ["Settings", "the sidebar", "the Activity tab", "the Admin console", "the Billing page", "the Team page"]
ERRORS = [
    "timed out",
    "was rejected",
    "shows a red banner",
    "stays pending",
    "fails with error 4{n:02d}",
    "returns an empty list",
    "duplicates entries",
    "is greyed out",
]
SECTIONS = [
    (
        "Before you start",
        "Only {role} can {task} {product}. Check that your plan includes {product}; the "
        "Starter plan allows {n} per month and Growth raises it to {m}. Have your company registration at hand.",
    ),
    (
        "Steps",
        "Open {place}, choose {product} and select {action}. Fill in the name, the currency and the "
        "default approver, then save. The change applies within {n} minutes to every {unit} in the workspace.",
    ),
    (
        "Limits",
        "{product} accepts up to {m} {unit}s per day and {n} requests per minute through the API. "
        "Above that, new {unit}s wait in a queue and are processed the next business day.",
    ),
    (
        "When something goes wrong",
        "If the {unit} {error}, refresh {place} and try again after {n} minutes. "
        "Still failing? Copy the reference shown under the {unit} and send it to support with a screenshot.",
    ),
    (
        "Who can see it",
        "{role_cap} see every {unit}; {other} see only their own. Change visibility from "
        "{place}, Permissions. Changes are recorded in the audit log with the name of who made them.",
    ),
    (
        "Fees",
        "Each {unit} in {product} costs {fee} EUR above the {n} included in your plan. Fees appear as a "
        "separate line on the next invoice and are never taken from a customer's balance.",
    ),
    (
        "Notifications",
        "{product} emails the {role} when a {unit} needs attention. Turn the emails into a daily "
        "digest, or send them to a Slack channel, from {place}, Notifications.",
    ),
    (
        "Good to know",
        "{product} keeps {unit}s for {m} days. Older ones are archived and can be restored by "
        "{role} within a year. Exports include archived {unit}s when you tick Include archive.",
    ),
]
UNITS = ["transaction", "payment", "request", "card", "statement", "transfer", "report", "invoice", "rule"]
ACTIONS = ["New", "Configure", "Connect", "Import", "Review", "Rules"]


def _article(index: int, rng: random.Random) -> tuple[str, str, str]:
    product = rng.choice(PRODUCTS)
    task, heading = rng.choice(TASKS)
    unit = rng.choice(UNITS)
    role, other = rng.sample(ROLES, 2)
    title = f"{heading} {product.lower() if heading.endswith(('in', 'to', 'from', 'of', 'for')) else product}"
    title = f"{title} ({unit}s, ref {index})"
    sections = []
    for name, text in rng.sample(SECTIONS, rng.randint(3, 4)):
        body = text.format(
            role=role,
            role_cap=role.capitalize(),
            other=other,
            task=task,
            product=product,
            unit=unit,
            place=rng.choice(PLACES),
            action=rng.choice(ACTIONS),
            n=rng.randint(2, 60),
            m=rng.randint(100, 5000),
            error=rng.choice(ERRORS).format(n=rng.randint(0, 29)),
            fee=f"{rng.randint(1, 40) / 10:.2f}",
        )
        sections.append(f"## {name}\n\n{body}")
    return title, "\n\n".join(sections), rng.choice(["billing", "technical", "account", "general"])


def _fill(count: int) -> None:
    from knowledge import chunking, demo, embedding
    from knowledge.models import Article, Chunk

    demo.load()
    have = Article.objects.filter(source_name__startswith="bench/").count()
    started = time.perf_counter()
    for start in range(have, count, BATCH):
        rows = [_article(i, random.Random(i)) for i in range(start, min(count, start + BATCH))]
        articles = Article.objects.bulk_create(
            Article(
                title=t, body=b, category=c, tags=["bench"], source_name=f"bench/{start + n}.md", source_kind="markdown"
            )
            for n, (t, b, c) in enumerate(rows)
        )
        pieces = [(a, n, p) for a in articles for n, p in enumerate(chunking.chunk(a.body, title=a.title))]
        vectors = embedding.embed([embedding.chunk_text(a.title, p.heading, p.text) for a, _, p in pieces])
        Chunk.objects.bulk_create(
            Chunk(
                article=a,
                position=n,
                heading=p.heading,
                text=p.text,
                embedding=None if vectors is None else embedding.to_bytes(vectors[i]),
            )
            for i, (a, n, p) in enumerate(pieces)
        )
        print(f"  {start + len(rows)} articles", flush=True)
    if count > have:
        print(f"generated {count - have} articles in {time.perf_counter() - started:.0f} s")


def _timed(runs: dict[str, Any], questions: list[str]) -> dict[str, dict[str, float]]:
    """Each variant timed on each question in turn (interleaved, so a shared machine's load falls on all
    alike), PASSES times over the questions."""
    from bench.scale import _percentile

    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(PASSES):
        for question in questions:
            for name, run in runs.items():
                started = time.perf_counter()
                run(question)
                samples[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": _percentile(times, 0.95),
            "max_ms": round(max(times), 1),
            "searches": len(times),
        }
        for name, times in samples.items()
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from knowledge import evaluation, retrieval
    from knowledge.models import Article, Chunk

    setup_test_environment()
    call_command("migrate", verbosity=0)
    _fill(ARTICLES)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE knowledge_chunk; ANALYZE knowledge_article")
    user, _ = get_user_model().objects.update_or_create(username="bench-kb", defaults={"is_superuser": True})
    client = Client()
    client.force_login(user)
    pairs = evaluation.load(evaluation.DEFAULT_SET)
    questions = [p.question for p in pairs]
    for question in questions:  # warm: the vectors' first load, the connection, the database's page cache
        retrieval.search(question)
    k = settings.KB_TOP_K

    def api(question: str) -> None:
        response = client.get("/api/v1/kb/search/", {"q": question})
        assert response.status_code == 200, response.status_code

    timings = _timed(
        {
            f"search (product: semantic weight {settings.KB_SEMANTIC_WEIGHT})": retrieval.search,
            "search, full text alone": lambda q: retrieval.rank(q, k, semantic_weight=0),
            "API GET /api/v1/kb/search/": api,
        },
        questions,
    )
    quality = [evaluation.product(pairs).as_dict(), evaluation.with_weight(pairs, 0).as_dict()]
    figures = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": connection.vendor,
        "cpus": os.cpu_count(),
        "articles": Article.objects.count(),
        "chunks": Chunk.objects.count(),
        "questions": len(questions),
        "passes": PASSES,
        "timings": timings,
        "labeled_set_among_generated_articles": quality,
    }
    results = RESULTS_DIR / f"kb-{connection.vendor}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{figures['articles']} articles, {figures['chunks']} chunks on {connection.vendor}")
    width = max(len(name) for name in timings)
    for name, t in timings.items():
        print(f"{name:<{width}}  p50 {t['p50_ms']:>7.1f} ms   p95 {t['p95_ms']:>7.1f} ms   ({t['searches']} searches)")
    for row in quality:
        print(f"labeled set, {row['label']}: recall@3 {row['recall@3']}  mrr {row['mrr']}")
    print(f"written to {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
