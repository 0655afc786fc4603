"""API bearer tokens: signed claims any replica can check, refused when altered, foreign or expired."""

from __future__ import annotations

import pytest

from core.tokens import InvalidToken, guest_claims, issue, user_claims, verify
from core.users import AuthenticatedUser, Role

SECRET = "a-test-secret-of-more-than-thirty-two-characters"


def test_a_guest_token_round_trips_with_a_customer_id_of_its_own() -> None:
    first, second = guest_claims(ttl_s=60, now=1000), guest_claims(ttl_s=60, now=1000)
    assert first.customer_id != second.customer_id and first.role == Role.CUSTOMER
    back = verify(issue(first, secret=SECRET), secret=SECRET, now=1030)
    assert back == first and back.user() is None


def test_a_staff_token_carries_the_account() -> None:
    alex = AuthenticatedUser(7, "alex", "Alex", Role.AGENT)
    claims = verify(issue(user_claims(alex, ttl_s=60), secret=SECRET), secret=SECRET)
    assert claims.user() == alex and claims.subject == "user:7"


def test_a_token_carries_the_credentials_version_it_was_issued_under() -> None:
    """So a password change (a new version) voids it; a token from before versions reads as version 0."""
    alex = AuthenticatedUser(7, "alex", "Alex", Role.AGENT, credentials_version=3)
    assert verify(issue(user_claims(alex, ttl_s=60), secret=SECRET), secret=SECRET).user() == alex
    first = AuthenticatedUser(7, "alex", "Alex", Role.AGENT)
    token = issue(user_claims(first, ttl_s=60), secret=SECRET)
    assert '"ver"' not in _payload(token) and verify(token, secret=SECRET).user() == first


def _payload(token: str) -> str:
    import base64

    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def test_expired_altered_and_foreign_tokens_are_refused() -> None:
    token = issue(guest_claims(ttl_s=60, now=1000), secret=SECRET)
    with pytest.raises(InvalidToken, match="expired"):
        verify(token, secret=SECRET, now=1060)
    version, payload, signature = token.split(".")
    staff = issue(user_claims(AuthenticatedUser(1, "root", "Root", Role.ADMIN), ttl_s=60), secret="other")
    forged = f"{version}.{staff.split('.')[1]}.{signature}"  # an admin payload under the guest's signature
    for bad in (forged, staff, "garbage", f"v2.{payload}.{signature}", f"{version}.{payload}"):
        with pytest.raises(InvalidToken):
            verify(bad, secret=SECRET, now=1001)


def test_a_token_with_non_ascii_characters_is_refused_not_an_error() -> None:
    token = issue(guest_claims(ttl_s=60), secret=SECRET)
    with pytest.raises(InvalidToken):
        verify(token[:-1] + "é", secret=SECRET)


def test_a_token_checked_before_still_expires_and_still_belongs_to_its_secret_only() -> None:
    token = issue(guest_claims(ttl_s=60, now=1000), secret=SECRET)
    assert verify(token, secret=SECRET, now=1010).expires_at == 1060  # checked once, remembered
    with pytest.raises(InvalidToken, match="expired"):
        verify(token, secret=SECRET, now=1060)
    with pytest.raises(InvalidToken, match="invalid"):
        verify(token, secret="another-secret-of-more-than-thirty-two-characters", now=1010)
    assert verify(token, secret=SECRET, now=1059).expires_at == 1060
