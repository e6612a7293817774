"""Events of code we do not own, recorded as they happen: Django's logins and logouts, DRF's tokens.
(Our own actions call `audit.services.record` where they are performed.)"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from audit.models import Action
from audit.services import record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(Action.LOGIN, actor=user, request=request)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(Action.LOGOUT, actor=user, request=request)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Only the username: the credentials dict also holds the password (Django masks it, we skip it).
    record(Action.LOGIN_FAILED, actor_name=str(credentials.get("username", ""))[:150], request=request)


@receiver(post_save, sender=Token)
def _token_created(sender: Any, instance: Token, created: bool, **kwargs: Any) -> None:
    if created:
        record(Action.TOKEN_CREATED, target=f"user:{instance.user.get_username()}")


@receiver(post_delete, sender=Token)
def _token_deleted(sender: Any, instance: Token, **kwargs: Any) -> None:
    record(Action.TOKEN_DELETED, target=f"user:{instance.user.get_username()}")
