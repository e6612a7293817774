"""The learned classifier: training from people's classifications, versions and promotion, roll back, its
place in the chain, failing safe on a bad artifact, the beat task and the commands."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from classification import services
from classification.learned import model as text_model
from classification.learned import runtime, training
from classification.models import LearnedModel
from classification.tasks import retrain_learned_task
from classification.tests.learned_data import WORDS, labeled
from tickets.models import Source, Status, Ticket
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LEARNED_MIN_LABELS = 20
    runtime.invalidate()


def _corrected(agent: Any, rows: list[tuple[str, str, str]]) -> list[Ticket]:
    """Tickets the rules classified and a person then corrected (or confirmed), one after the other."""
    tickets = [TicketFactory.create(subject=s, body=b) for s, b, _ in rows]
    services.classify_tickets([t.pk for t in tickets])
    for ticket, (_, _, category) in zip(tickets, rows, strict=True):
        services.record_corrections([ticket.pk], agent, {"category": category})
    return tickets


def _trained(agent: Any, n: int = 120) -> LearnedModel:
    _corrected(agent, labeled(n))
    return training.train(training.labels_from_database(), trigger="test", source="database")


def test_the_text_model_round_trips_through_its_artifact_and_refuses_anything_else():
    rows = labeled(80)
    fitted = text_model.fit([f"{s}\n{b}" for s, b, _ in rows], [c for _, _, c in rows])
    data = text_model.dumps(fitted)
    again = text_model.loads(data)
    texts = ["zorblax quillet again", "lumindel ombrel please"]
    assert again.predict(texts) == fitted.predict(texts)
    assert [c for c, _ in again.predict(texts)] == ["billing", "feature_request"]
    for broken in (b"", b"not a model", data[: len(data) // 2]):
        with pytest.raises(text_model.ArtifactError):
            text_model.loads(broken)


def test_a_version_trained_from_corrections_beats_the_rules_and_becomes_active(agent):
    version = _trained(agent)
    assert version.is_active and version.decision == LearnedModel.Decision.PROMOTED
    assert (version.n_labels, version.n_train, version.n_holdout) == (120, 96, 24)
    assert version.figures["accuracy"] > version.baseline["accuracy"] and version.baseline["name"] == "keyword rules"
    assert set(version.figures["per_class"]) == set(WORDS) and set(version.thresholds) == set(WORDS)
    name = version.artifact.name or ""
    assert name.startswith("learned-models/") and default_storage.exists(name)
    assert version.labels_until == Ticket.objects.order_by("-classified_at")[0].classified_at


def test_a_version_no_better_than_the_active_one_is_kept_aside(agent):
    first = _trained(agent)
    second = training.train(training.labels_from_database(), trigger="test", source="database")
    assert second.decision == LearnedModel.Decision.KEPT and not second.is_active
    assert second.baseline["name"] == first.name
    assert LearnedModel.objects.get(is_active=True) == first


def test_admin_lists_the_versions_and_rolls_back_to_an_older_one(agent):
    older = _trained(agent)
    newer = training.train(training.labels_from_database(), trigger="test", source="database", force_promote=True)
    assert LearnedModel.objects.get(is_active=True) == newer
    client = Client()
    client.force_login(UserFactory.create(username="admin", is_staff=True, is_superuser=True))
    page = client.get("/admin/classification/learnedmodel/")
    assert page.status_code == 200 and f"learned model v{older.pk}" in page.content.decode()
    response = client.post(
        "/admin/classification/learnedmodel/",
        {"action": "activate_version", "_selected_action": [older.pk]},
    )
    assert response.status_code == 302
    assert LearnedModel.objects.get(is_active=True) == older
    client.post("/admin/classification/learnedmodel/", {"action": "deactivate_all", "_selected_action": [older.pk]})
    assert not LearnedModel.objects.filter(is_active=True).exists()


def test_the_chain_answers_learned_when_confident_and_keyword_when_not(agent):
    version = _trained(agent)
    confident = TicketFactory.create(subject="zorblax quillet", body="marnix flentor pabble zorblax again")
    row = services.classify_ticket(confident.pk)
    assert row is not None and row.source == Source.LEARNED and row.category == "billing"
    assert row.fallback_reason == "not_configured" and row.model_name == version.name
    assert row.explanation["learned"]["version"] == version.pk and row.team == "billing"
    assert row.priority and row.summary  # the rest still comes from the rules

    LearnedModel.objects.filter(pk=version.pk).update(thresholds=dict.fromkeys(WORDS, 1.01))
    unsure = TicketFactory.create(subject="zorblax quillet", body="marnix flentor pabble zorblax again")
    row = services.classify_ticket(unsure.pk)
    assert row is not None and row.source == Source.KEYWORD and row.fallback_reason == "not_configured"
    assert row.explanation["learned"]["category"] == "billing"
    assert row.explanation["learned"]["threshold"] == 1.01


def test_a_chunk_is_predicted_in_one_batch(agent, monkeypatch):
    _trained(agent)
    calls: list[int] = []
    original = text_model.TextModel.predict

    def counted(self: text_model.TextModel, texts: list[str]) -> list[tuple[str, float]]:
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(text_model.TextModel, "predict", counted)
    tickets = [TicketFactory.create(subject=s, body=b) for s, b, _ in labeled(12, seed=5)]
    services.classify_tickets([t.pk for t in tickets])
    assert calls == [12]
    assert set(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("classification_source", flat=True)
    ) == {Source.LEARNED}


@pytest.mark.parametrize("damage", ["garbage", "missing", "another_model"])
def test_a_corrupt_or_wrong_artifact_fails_safe_to_the_rules_and_admin_shows_why(agent, damage):
    version = _trained(agent)
    name = version.artifact.name or ""
    if damage == "garbage":
        with default_storage.open(name, "wb") as handle:
            handle.write(b"PK\x03\x04 not really a zip")
    elif damage == "missing":
        default_storage.delete(name)
    else:  # a real model, but not the one this version trained
        rows = labeled(40, seed=9)
        other = text_model.fit([s + b for s, b, _ in rows], [c for _, _, c in rows])
        with default_storage.open(name, "wb") as handle:
            handle.write(text_model.dumps(other))
    ticket = TicketFactory.create(subject="zorblax quillet", body="marnix flentor")
    row = services.classify_ticket(ticket.pk)
    assert row is not None and row.source == Source.KEYWORD and row.fallback_reason == "not_configured"
    assert row.explanation["learned"]["version"] == version.pk and row.explanation["learned"]["error"]
    version.refresh_from_db()
    assert version.load_error
    client = Client()
    client.force_login(UserFactory.create(username="admin", is_staff=True, is_superuser=True))
    assert version.load_error[:60] in client.get("/admin/classification/learnedmodel/").content.decode()


def test_the_beat_task_trains_once_enough_new_corrections_arrived(agent, settings):
    settings.LEARNED_RETRAIN_AFTER = 100
    _corrected(agent, labeled(96))
    retrain_learned_task.apply()
    assert not LearnedModel.objects.exists()
    _corrected(agent, labeled(8, seed=3))
    retrain_learned_task.apply()
    version = LearnedModel.objects.get()
    assert version.trigger == "beat" and version.is_active and version.n_labels == 104
    retrain_learned_task.apply()  # nothing new since
    assert LearnedModel.objects.count() == 1


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "body", "category"])
        writer.writerows(rows)
    return path


def test_train_classifier_from_a_file_and_from_the_database(agent, tmp_path):
    data = _write_csv(tmp_path / "labeled.csv", [*labeled(100), ("a", "b", "not_a_category")])
    out = io.StringIO()
    call_command(
        "train_classifier",
        str(data),
        "--text-column=subject",
        "--text-column=body",
        "--label-column=category",
        stdout=out,
    )
    text = out.getvalue()
    assert "Left out, not active categories: not_a_category" in text and "is active" in text
    version = LearnedModel.objects.get()
    assert version.source == "file labeled.csv" and version.n_labels == 100

    _corrected(agent, labeled(40, seed=2))
    out = io.StringIO()
    call_command("train_classifier", "--json", "--promote", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["n_labels"] == 40 and summary["active"] is True
    with pytest.raises(CommandError, match="at least two"):
        call_command("train_classifier", str(_write_csv(tmp_path / "one.csv", [("a", "b", "billing")] * 5)),
                     "--text-column=subject", "--label-column=category")  # fmt: skip


def test_evaluate_measures_each_classifier(agent, tmp_path, fake_llm):
    data = _write_csv(tmp_path / "eval.csv", labeled(40, seed=11))
    args = [str(data), "--text-column=subject", "--text-column=body", "--label-column=category", "--json"]
    with pytest.raises(CommandError, match="no learned model is active"):
        call_command("evaluate", *args, "--classifier=learned")
    _trained(agent)
    reports = {}
    for name in ("keyword", "learned", "chain", "llm"):
        out = io.StringIO()
        call_command("evaluate", *args, f"--classifier={name}", stdout=out)
        reports[name] = json.loads(out.getvalue())
    assert reports["learned"]["accuracy"] == 1.0
    assert reports["keyword"]["accuracy"] < 0.5
    assert reports["llm"]["n"] == 40  # the fake LLM answers by its own keywords
    fake_llm.state.configure({"mode": "error500"})
    out = io.StringIO()
    call_command("evaluate", *args, "--classifier=chain", stdout=out)  # the LLM fails: learned, then rules
    assert json.loads(out.getvalue())["accuracy"] == 1.0


def test_labels_from_the_database_are_the_human_ones_oldest_first(agent):
    tickets = _corrected(agent, labeled(8))
    TicketFactory.create(classified=True)  # an automatic classification is not a label
    labels = training.labels_from_database()
    assert [label.category for label in labels] == [t.category for t in sorted(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]), key=lambda t: (t.classified_at, t.pk))]  # fmt: skip
    assert all(t.status == Status.CLASSIFIED for t in Ticket.objects.filter(pk__in=[t.pk for t in tickets]))


def test_a_labeled_import_becomes_training_data(tmp_path, django_capture_on_commit_callbacks):
    rows = labeled(60, seed=4)
    data = _write_csv(tmp_path / "export.csv", [*rows[:-1], (rows[-1][0], rows[-1][1], "")])
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_tickets", str(data), stdout=out)
    assert "Imported 60 tickets (59 with their category" in out.getvalue()
    assert Ticket.objects.filter(classification_source=Source.HUMAN).count() == 59
    labels = training.labels_from_database()
    assert len(labels) == 59 and {label.category for label in labels} == set(WORDS)
    with pytest.raises(CommandError):
        call_command(
            "import_tickets", str(_write_csv(tmp_path / "bad.csv", [("a", "b", "nope")])), stdout=io.StringIO()
        )


def test_the_dashboard_and_the_api_show_the_learned_source(agent, agent_client, api_client):
    _trained(agent)
    ticket = TicketFactory.create(subject="zorblax quillet", body="marnix flentor pabble")
    services.classify_ticket(ticket.pk)
    listed = api_client.get("/api/v1/tickets/?source=learned").json()
    assert [row["id"] for row in listed["results"]] == [ticket.pk]
    assert listed["results"][0]["classification_source"] == "learned"
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Learned model" in page and "learned model because" in page
