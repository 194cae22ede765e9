"""Tokens: who may do what, and which tokens are refused."""

from datetime import timedelta

import jwt
import pytest

from services.common.auth import InvalidToken, Principal, Role, issue_token, verify_token

SECRET = "s" * 48


def test_a_group_admin_reads_and_writes_every_subsidiary():
    principal = verify_token(SECRET, issue_token(SECRET, Role.GROUP_ADMIN))
    assert principal.role is Role.GROUP_ADMIN and principal.subsidiary is None
    assert principal.can_write("a") and principal.can_write("b")


def test_a_subsidiary_admin_is_limited_to_its_subsidiary():
    principal = verify_token(SECRET, issue_token(SECRET, "subsidiary-admin", "axa-fr"))
    assert principal.can_write("axa-fr") and not principal.can_read("axa-be")


def test_an_auditor_reads_but_never_writes():
    everywhere = verify_token(SECRET, issue_token(SECRET, "auditor"))
    one = verify_token(SECRET, issue_token(SECRET, "auditor", "axa-fr"))
    assert everywhere.can_read("axa-be") and not everywhere.can_write("axa-be")
    assert one.can_read("axa-fr") and not one.can_read("axa-be") and not one.can_write("axa-fr")


def test_inconsistent_tokens_are_not_issued():
    with pytest.raises(ValueError):
        issue_token(SECRET, "subsidiary-admin")
    with pytest.raises(ValueError):
        issue_token(SECRET, "group-admin", "axa-fr")
    with pytest.raises(ValueError):
        issue_token(SECRET, "superuser")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(issue_token(SECRET, "group-admin", ttl=timedelta(seconds=-1)), id="expired"),
        pytest.param(issue_token("another secret" * 4, "group-admin"), id="wrong-secret"),
        pytest.param(issue_token(SECRET, "group-admin")[:-3] + "abc", id="tampered-signature"),
        pytest.param(jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem", "exp": 9999999999}, None, algorithm="none"), id="alg-none"),
        pytest.param(jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem", "exp": 9999999999}, SECRET, algorithm="HS512"), id="other-algorithm"),
        pytest.param(jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem"}, SECRET, algorithm="HS256"), id="no-expiry"),
        pytest.param(jwt.encode({"sub": "x", "role": "root", "iss": "tandem", "exp": 9999999999}, SECRET, algorithm="HS256"), id="unknown-role"),
        pytest.param(jwt.encode({"sub": "x", "role": "subsidiary-admin", "iss": "tandem", "exp": 9999999999}, SECRET, algorithm="HS256"), id="admin-without-subsidiary"),
        pytest.param("not.a.token", id="garbage"),
    ],
)
def test_bad_tokens_are_refused(token):
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token)


def test_principal_is_plain_data():
    assert Principal("a", Role.AUDITOR) == Principal("a", Role.AUDITOR)
