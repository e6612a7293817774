"""The login throttle (django-axes): repeated wrong passwords lock out the username and the address,
on the dashboard's login and the admin's alike, until the cool-off has passed; API tokens are no logins."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery"  # UserFactory's
ATTACKER = "10.0.0.66"
ELSEWHERE = "10.0.0.7"


@pytest.fixture
def alice():
    return UserFactory.create(username="alice", is_staff=True, permissions=["tickets.view_ticket"])


@pytest.fixture
def bob():
    return UserFactory.create(username="bob", permissions=["tickets.view_ticket"])


def _log_in(client: Client, username: str, password: str, address: str = ATTACKER, url: str = LOGIN):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _logged_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def _fail_until_locked(settings, username: str, address: str = ATTACKER, url: str = LOGIN) -> list[int]:
    client = Client()
    return [_log_in(client, username, "wrong", address, url).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


def test_n_wrong_passwords_lock_the_user_out_and_the_right_one_is_refused(settings, alice):
    codes = _fail_until_locked(settings, "alice")
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    client = Client()
    response = _log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert _logged_in_as(client) is None
    html = response.content.decode()
    assert "Too many failed logins" in html and 'id="locked-out"' in html
    assert "Try again in 15 minutes" in html


def test_the_right_password_works_again_after_the_cool_off(settings, alice):
    _fail_until_locked(settings, "alice")
    # Time passes: every counted failure is now older than the cool-off.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME)

    client = Client()
    response = _log_in(client, "alice", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert _logged_in_as(client) == str(alice.pk)


def test_tries_during_the_lockout_do_not_extend_or_grow_it(settings, alice):
    _fail_until_locked(settings, "alice")
    locked_at = AccessAttempt.objects.get().attempt_time
    for _ in range(20):
        assert _log_in(Client(), "alice", "wrong").status_code == 429
    attempt = AccessAttempt.objects.get()
    assert attempt.attempt_time == locked_at and attempt.failures_since_start == settings.AXES_FAILURE_LIMIT


def test_other_users_at_other_addresses_are_unaffected(settings, alice, bob):
    _fail_until_locked(settings, "alice")

    client = Client()
    assert _log_in(client, "bob", PASSWORD, ELSEWHERE).status_code == 302
    assert _logged_in_as(client) == str(bob.pk)


def test_the_locked_username_is_refused_from_any_address(settings, alice):
    _fail_until_locked(settings, "alice")
    client = Client()
    assert _log_in(client, "alice", PASSWORD, ELSEWHERE).status_code == 429
    assert _logged_in_as(client) is None


def test_the_locked_address_is_refused_for_any_username(settings, alice, bob):
    _fail_until_locked(settings, "nobody-such")  # guessing usernames counts per address too
    client = Client()
    assert _log_in(client, "bob", PASSWORD, ATTACKER).status_code == 429
    assert _logged_in_as(client) is None
    assert _log_in(client, "alice", PASSWORD, ELSEWHERE).status_code == 302


def test_the_admin_login_is_throttled_the_same_way(settings, alice):
    codes = _fail_until_locked(settings, "alice", url=ADMIN_LOGIN)
    assert codes[-1] == 429

    client = Client()
    response = _log_in(client, "alice", PASSWORD, url=f"{ADMIN_LOGIN}?next=/admin/")
    assert response.status_code == 429 and "Too many failed logins" in response.content.decode()
    assert _logged_in_as(client) is None
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_failures_on_the_dashboard_count_for_the_admin_login(settings, alice):
    _fail_until_locked(settings, "alice", url=LOGIN)
    assert _log_in(Client(), "alice", PASSWORD, ELSEWHERE, url=ADMIN_LOGIN).status_code == 429


def test_a_locked_users_api_token_still_works_and_bad_tokens_are_not_logins(settings, alice):
    _fail_until_locked(settings, "alice")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    assert api.get("/api/v1/tickets/", REMOTE_ADDR=ATTACKER).json()["results"] == []

    AccessAttempt.objects.all().delete()
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert stranger.get("/api/v1/tickets/", REMOTE_ADDR=ELSEWHERE).status_code == 401
    assert not AccessAttempt.objects.exists()
    assert _log_in(Client(), "bob-does-not-exist", "x", ELSEWHERE).status_code == 200  # not locked


def test_a_forged_forwarded_for_header_does_not_give_a_new_address(settings, alice):
    # No proxy configured (TRUSTED_PROXY_COUNT=0): the header is the client's own words.
    client = Client()
    for number in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            LOGIN,
            {"username": f"user{number}", "password": "x"},
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}",
        )
    response = client.post(
        LOGIN, {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.200"
    )
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(settings, alice):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "172.18.0.2"
    for number in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            LOGIN,
            {"username": f"user{number}", "password": "x"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"forged, {ATTACKER}",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    # Another client behind the same proxy is not locked out by the attacker's failures.
    client = Client()
    response = client.post(
        LOGIN, {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=ELSEWHERE
    )
    assert response.status_code == 302 and _logged_in_as(client) == str(alice.pk)
