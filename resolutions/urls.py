from __future__ import annotations

from django.urls import path

from resolutions import views

app_name = "resolutions"

urlpatterns = [
    path("tickets/<int:pk>/resolution/", views.panel, name="panel"),
    path("tickets/<int:pk>/resolution/<int:draft_pk>/decide/", views.decide, name="decide"),
]
