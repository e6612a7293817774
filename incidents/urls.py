from __future__ import annotations

from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/status/", views.incident_status, name="status"),
    path("tickets/<int:pk>/duplicate/", views.confirm_duplicate, name="duplicate"),
]
