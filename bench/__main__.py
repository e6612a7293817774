"""Benchmarks: `make bench` (or `python -m bench`). Prints figures and writes bench/results/latest.json.

Runs on one core (the process is pinned to CPU 0 where the OS allows it). Each figure is the median of
several repeats, measured side by side in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "banking77_support_queries.csv"
RESULTS = ROOT / "bench" / "results" / "latest.json"
REPEATS = 5


def _median_rate(run: Callable[[], int]) -> dict[str, float]:
    rates = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - started))
    return {"median": round(statistics.median(rates), 1), "min": round(min(rates), 1), "max": round(max(rates), 1)}


def _keyword_throughput() -> dict[str, Any]:
    from classification import keywords, rules
    from classification.evaluation import read_labeled_csv

    sys.path.insert(0, str(ROOT))
    migration = __import__("classification.migrations.0002_default_taxonomy", fromlist=["DEFAULT_CATEGORIES"])
    default = rules.rules_from_taxonomy(migration.DEFAULT_CATEGORIES)
    tuned = rules.rules_from_taxonomy(rules.load_taxonomy_file(ROOT / "docs" / "banking77-tuned-taxonomy.json"))
    rows = read_labeled_csv(DATA, text_columns=["text"], label_column="proposed_category", where=[("split", "test")])

    def run_with(rule_set: keywords.RuleSet) -> Callable[[], int]:
        def run() -> int:
            for row in rows:
                keywords.classify(rule_set, row.subject, row.body)
            return len(rows)

        return run

    results: dict[str, Any] = {"rows": len(rows), "default_taxonomy": _median_rate(run_with(default))}
    results["tuned_taxonomy"] = _median_rate(run_with(tuned))
    results["tuned_vs_default"] = round(results["tuned_taxonomy"]["median"] / results["default_taxonomy"]["median"], 3)
    return results


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    import django

    django.setup()
    figures: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "cpus_used": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "keyword_classifier_tickets_per_second": _keyword_throughput(),
    }
    from bench.api import api_figures

    figures["api"] = api_figures()
    from bench.breaker import breaker_figures

    figures["breaker_microseconds"] = breaker_figures()

    from bench.regex import regex_figures

    figures["hostile_text"] = regex_figures()

    from bench.learned import learned_figures

    figures["learned_classifier"] = learned_figures()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
