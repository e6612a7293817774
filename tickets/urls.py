from __future__ import annotations

from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("stats/", views.stats_fragment, name="stats"),
    path("charts/", views.charts_fragment, name="charts"),
    path("breaker/", views.breaker_badge, name="breaker"),
    path("tickets/", views.ticket_list, name="list"),
    path("tickets/arrivals/", views.arrivals, name="arrivals"),
    path("tickets/bulk/", views.bulk, name="bulk"),
    path("tickets/export.csv", views.export_csv, name="export"),
    path("tickets/views/", views.save_view, name="save_view"),
    path("tickets/views/<int:pk>/delete/", views.delete_view, name="delete_view"),
    path("tickets/new/", views.create, name="create"),
    path("tickets/<int:pk>/", views.detail, name="detail"),
    path("tickets/<int:pk>/row/", views.ticket_row, name="row"),
    path("tickets/<int:pk>/classification/", views.classification_fragment, name="classification"),
    path("tickets/<int:pk>/work/", views.work_fragment, name="work"),
    path("tickets/<int:pk>/state/", views.change_state, name="state"),
    path("tickets/<int:pk>/assign/", views.assign, name="assign"),
    path("tickets/<int:pk>/correct/", views.correct, name="correct"),
    path("tickets/<int:pk>/reclassify/", views.reclassify, name="reclassify"),
    path("tickets/<int:pk>/retry/", views.retry, name="retry"),
    path("review/", views.needs_review, name="review"),
    path("failed/", views.failed, name="failed"),
    path("failed/retry-all/", views.retry_all_failed, name="retry_all"),
    path("me/", views.me, name="me"),
]
