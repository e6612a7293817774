"""Authentication for every API request, at the cost of one query.

An API request authenticates its token and checks one model permission. Through the ORM that is three
queries (the token with its user; the user's own permissions; their groups') whose building cost several
times their running, and three round trips to the database: about half of a bare request's time,
profiled. Here it is one plain SQL statement over the same tables (names from the models):
`TokenAuthentication` reads the token, its user and the user's permissions, own and groups', and
`OneQueryModelBackend` answers permission checks from what it read. A session-authenticated request (the
dashboard, the browsable API) has its permissions read by the backend in one statement instead of two.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return connection.ops.quote_name(str(field.column))


def _through(model: type[models.Model], name: str) -> type[models.Model]:
    through = model._meta.get_field(name).remote_field.through  # type: ignore[union-attr]
    assert through is not None
    return through


def _permission_ids(user_id: str) -> str:
    """SQL for the ids of the permissions the user `user_id` (an SQL expression) has, own or by group."""
    user_model = get_user_model()
    own, member, granted = (
        _through(user_model, "user_permissions"),
        _through(user_model, "groups"),
        _through(Group, "permissions"),
    )
    return (
        f"SELECT {_column(own, 'permission')} FROM {_table(own)} WHERE {_column(own, 'user')} = {user_id} "
        f"UNION SELECT g.{_column(granted, 'permission')} FROM {_table(granted)} g "
        f"JOIN {_table(member)} m ON m.{_column(member, 'group')} = g.{_column(granted, 'group')} "
        f"WHERE m.{_column(member, 'user')} = {user_id}"
    )


def _permission_names(permission: str, content_type: str) -> str:
    return f"{content_type}.{_column(ContentType, 'app_label')}, {permission}.{_column(Permission, 'codename')}"


@functools.cache
def _permissions_sql() -> str:
    return (
        f"SELECT {_permission_names('p', 'ct')} FROM {_table(Permission)} p JOIN {_table(ContentType)} ct "
        f"ON ct.{_column(ContentType, 'id')} = p.{_column(Permission, 'content_type')} "
        f"WHERE p.{_column(Permission, 'id')} IN ({_permission_ids('%s')})"
    )


@functools.cache
def _token_sql() -> tuple[str, list[str], list[str]]:
    """One row per permission of the token's user (one row with empty permission columns when it has
    none): the user's columns, the token's, then the permission's app label and codename."""
    user_model = get_user_model()
    user_fields = [field.attname for field in user_model._meta.concrete_fields]
    token_fields = [field.attname for field in Token._meta.concrete_fields]
    columns = [f"u.{_column(user_model, name)}" for name in user_fields]
    columns += [f"t.{_column(Token, name)}" for name in token_fields]
    user_pk = _column(user_model, user_model._meta.pk.name)
    key = _column(Token, "key")
    # The token's user id as a subquery run once, so the permission ids are a set the database builds once.
    user_id = f"(SELECT {_column(Token, 'user')} FROM {_table(Token)} WHERE {key} = %s)"
    sql = (
        f"SELECT {', '.join(columns)}, {_permission_names('p', 'ct')} FROM {_table(Token)} t "
        f"JOIN {_table(user_model)} u ON u.{user_pk} = t.{_column(Token, 'user')} "
        f"LEFT JOIN {_table(Permission)} p ON p.{_column(Permission, 'id')} IN ({_permission_ids(user_id)}) "
        f"LEFT JOIN {_table(ContentType)} ct "
        f"ON ct.{_column(ContentType, 'id')} = p.{_column(Permission, 'content_type')} "
        f"WHERE t.{key} = %s"
    )
    return sql, user_fields, token_fields


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (`Authorization: Token <key>`): the token, its user and the user's
    permissions in one statement. Same answers: an unknown key or an inactive user is a 401."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        sql, user_fields, token_fields = _token_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key, key, key])
            rows = cursor.fetchall()
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        first, split = rows[0], len(user_fields)
        user = get_user_model().from_db(connection.alias, user_fields, first[:split])
        token = Token.from_db(connection.alias, token_fields, first[split : split + len(token_fields)])
        token.user = user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not user.is_superuser:  # a superuser has every permission without a lookup
            # Where Django's ModelBackend, and ours, keep a user's permissions for the request.
            setattr(user, "_perm_cache", {f"{row[-2]}.{row[-1]}" for row in rows if row[-1] is not None})  # noqa: B010
        return user, token


class OneQueryModelBackend(ModelBackend):
    """Django's ModelBackend, with a user's permissions (their own and their groups') read in one statement
    instead of two ORM queries; cached on the user object for the request, as Django does. Superusers
    need no read: `User.has_perm` answers yes before asking a backend."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):  # not read with the user's token, nor earlier in the request
            if user_obj.is_superuser:
                names = Permission.objects.values_list("content_type__app_label", "codename")
                user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in names}
            else:
                with connection.cursor() as cursor:
                    cursor.execute(_permissions_sql(), [user_obj.pk, user_obj.pk])
                    user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
        return user_obj._perm_cache
