from __future__ import annotations

from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("", views.runs, name="runs"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/report.md", views.report_markdown, name="markdown"),
    path("<int:pk>/themes.csv", views.themes_csv, name="csv"),
]
