"""The learned classifier on BANKING77 (`../shared/data`): training time, accuracy and macro-F1 on the test
split (trained on the full train split, and on 10 labels per intent), prediction time per ticket (in worker
chunks and one at a time), artifact size and load time. `make bench-learned` (or `python -m bench.learned`)
writes bench/results/learned.json; `make bench` includes it.

The model's parameters were chosen by cross-validation on the train split only; the test split is measured
here and nowhere tuned against.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "banking77_support_queries.csv"
RESULTS = ROOT / "bench" / "results" / "learned.json"
REPEATS = 3
FEW_SHOT_SEEDS = 5
CHUNK = 100


def _rows(where: list[tuple[str, str]]) -> list[Any]:
    from classification.evaluation import read_labeled_csv

    return read_labeled_csv(DATA, text_columns=["text"], label_column="proposed_category", where=where)


def _intents() -> list[str]:
    import csv

    with DATA.open(newline="", encoding="utf-8") as handle:
        return [row["intent"] for row in csv.DictReader(handle) if row["split"] == "train"]


def _scores(fitted: Any, rows: list[Any]) -> dict[str, float]:
    from classification.evaluation import score
    from classification.learned.model import ticket_text

    guesses = [c for c, _ in fitted.predict([ticket_text(r.subject, r.body) for r in rows])]
    report = score([r.label for r in rows], guesses)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def _fit(rows: list[Any]) -> Any:
    from classification.learned import model

    return model.fit([model.ticket_text(r.subject, r.body) for r in rows], [r.label for r in rows])


def _median_seconds(run: Callable[[], Any], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _few_shot(train: list[Any], test: list[Any], clear: list[Any], per_intent: int) -> dict[str, Any]:
    by_intent: dict[str, list[Any]] = {}
    for row, intent in zip(train, _intents(), strict=True):
        by_intent.setdefault(intent, []).append(row)
    runs: list[dict[str, Any]] = []
    for seed in range(FEW_SHOT_SEEDS):
        rng = random.Random(seed)
        sample = [row for intent in sorted(by_intent) for row in rng.sample(by_intent[intent], per_intent)]
        fitted = _fit(sample)
        figures = {"all": _scores(fitted, test), "unambiguous": _scores(fitted, clear)}
        runs.append({"seed": seed, "labels": len(sample), **figures})
    accuracy = [run["all"]["accuracy"] for run in runs]
    return {
        "per_intent": per_intent,
        "seeds": FEW_SHOT_SEEDS,
        "accuracy_mean": round(statistics.mean(accuracy), 4),
        "accuracy_min": min(accuracy),
        "macro_f1_mean": round(statistics.mean(run["all"]["macro_f1"] for run in runs), 4),
        "unambiguous_accuracy_mean": round(statistics.mean(run["unambiguous"]["accuracy"] for run in runs), 4),
        "runs": runs,
    }


def _prediction(fitted: Any, test: list[Any]) -> dict[str, Any]:
    from classification.learned.model import ticket_text

    texts = [ticket_text(r.subject, r.body) for r in test]
    chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
    chunked = _median_seconds(lambda: [fitted.predict(chunk) for chunk in chunks], 5)
    singles = texts[:500]
    single = _median_seconds(lambda: [fitted.predict([text]) for text in singles], 5)
    return {
        "ms_per_ticket_in_chunks_of_100": round(1000 * chunked / len(texts), 4),
        "ms_per_ticket_one_at_a_time": round(1000 * single / len(singles), 4),
    }


def learned_figures() -> dict[str, Any]:
    from classification.learned import model

    train = _rows([("split", "train")])
    test = _rows([("split", "test")])
    clear = _rows([("split", "test"), ("mapping_ambiguous", "no")])
    fitted = _fit(train)
    data = model.dumps(fitted)
    return {
        "params": fitted.params.__dict__,
        "train_rows": len(train),
        "fit_seconds_median": round(_median_seconds(lambda: _fit(train)), 2),
        "full_train": {"all_test_rows": _scores(fitted, test), "unambiguous_test_rows": _scores(fitted, clear)},
        "ten_per_intent": _few_shot(train, test, clear, 10),
        "prediction": _prediction(fitted, test),
        "artifact_bytes": len(data),
        "artifact_load_ms": round(1000 * _median_seconds(lambda: model.loads(data), 5), 1),
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    import django

    django.setup()
    figures = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **learned_figures()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "ten_per_intent"}, indent=2))
    print(json.dumps({k: v for k, v in figures["ten_per_intent"].items() if k != "runs"}, indent=2))
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
