from __future__ import annotations

from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.overview, name="overview"),
]
