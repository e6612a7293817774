from __future__ import annotations

from django.urls import path

from knowledge import views

app_name = "knowledge"

urlpatterns = [
    path("", views.articles, name="articles"),
    path("upload/", views.upload, name="upload"),
    path("gaps/", views.gap_report, name="gaps"),
]
