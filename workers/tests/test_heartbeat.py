from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import wait_for
from workers import heartbeat
from workers.models import WorkerHeartbeat


@pytest.mark.django_db
def test_alive_counts_only_workers_seen_within_three_intervals(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 10
    now = timezone.now()
    heartbeat.beat("fresh@a", pid=1, started_at=now)
    WorkerHeartbeat.objects.create(hostname="late@b", pid=2, started_at=now, seen_at=now - timedelta(seconds=25))
    WorkerHeartbeat.objects.create(hostname="gone@c", pid=3, started_at=now, seen_at=now - timedelta(seconds=31))
    assert [w.hostname for w in heartbeat.alive()] == ["fresh@a", "late@b"]


@pytest.mark.django_db
def test_beating_again_refreshes_one_row_and_forget_removes_it():
    started = timezone.now() - timedelta(minutes=5)
    heartbeat.beat("w@a", pid=10, started_at=started)
    first = WorkerHeartbeat.objects.get().seen_at
    heartbeat.beat("w@a", pid=10, started_at=started)
    row = WorkerHeartbeat.objects.get()
    assert row.seen_at >= first and row.started_at == started
    heartbeat.forget("w@a")
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_heart_thread_prunes_dead_workers_beats_until_stopped_and_then_removes_its_row(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    long_ago = timezone.now() - heartbeat.FORGET_AFTER - timedelta(minutes=1)
    WorkerHeartbeat.objects.create(hostname="killed@old", pid=1, started_at=long_ago, seen_at=long_ago)
    WorkerHeartbeat.objects.create(hostname="recent@b", pid=2, started_at=long_ago, seen_at=timezone.now())
    heart = heartbeat.Heart("thread@a")
    heart.start()
    first = wait_for(lambda: WorkerHeartbeat.objects.filter(hostname="thread@a").first(), timeout=10)
    wait_for(lambda: WorkerHeartbeat.objects.get(hostname="thread@a").seen_at > first.seen_at, timeout=10)
    assert not WorkerHeartbeat.objects.filter(hostname="killed@old").exists()
    heart.stop()
    assert not heart._thread.is_alive()
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["recent@b"]


@pytest.mark.django_db
def test_admin_lists_workers_read_only(admin_client):
    heartbeat.beat("celery@box", pid=7, started_at=timezone.now())
    listing = admin_client.get("/admin/workers/workerheartbeat/")
    assert listing.status_code == 200 and "celery@box" in listing.content.decode()
    assert admin_client.get("/admin/workers/workerheartbeat/add/").status_code == 403
