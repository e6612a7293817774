"""Events of code we do not own, recorded as they happen: Django's logins and logouts, DRF's tokens.
(Our own actions call `audit.services.record` where they are performed.)"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token, TokenProxy

from audit.models import Action
from audit.services import record
from supportintel import logcontext


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


def _acting_request() -> Any:
    """The HTTP request being served, if any (RequestIdMiddleware binds it for the logs): who acts, from where.
    A command (`drf_create_token`) has none."""
    return logcontext.current().get("request")


def _record_token(action: Action, token: Token) -> None:
    request = _acting_request()
    record(
        action,
        actor=getattr(request, "user", None),
        target=f"user:{token.user.get_username()}",
        request=request,
    )


# Admin edits tokens through DRF's TokenProxy, and a proxy's saves are sent with the proxy as sender.
@receiver(post_save, sender=Token)
@receiver(post_save, sender=TokenProxy)
def _token_created(sender: Any, instance: Token, created: bool, **kwargs: Any) -> None:
    if created:
        _record_token(Action.TOKEN_CREATED, instance)


@receiver(post_delete, sender=Token)
@receiver(post_delete, sender=TokenProxy)
def _token_deleted(sender: Any, instance: Token, **kwargs: Any) -> None:
    _record_token(Action.TOKEN_DELETED, instance)
