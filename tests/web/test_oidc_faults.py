"""Sign-in through a provider that refuses, names itself with a trailing slash, or is away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from portfolio.db import Database
from portfolio.oidc import Provider
from portfolio.settings import Settings
from tests.oidc_provider import approve, oidc_issuer, set_user  # noqa: F401 - the fixture
from tests.web.auth import Browser
from web.app import create_app

CALLBACK = "http://testserver/login/oidc/callback"


@pytest.fixture
def backend() -> str:
    """Sign-in's faults do not depend on the database."""
    return "sqlite"


def with_provider(settings: Settings, issuer: str, client_id: str, secret: str) -> Settings:
    return settings.model_copy(update={"oidc_issuer": issuer, "oidc_client_id": client_id,
                                       "oidc_client_secret": secret})


def registered_client(issuer: str) -> tuple[str, str]:
    """Register a client at the provider (it then checks the secret); return id and secret."""
    answer = requests.post(f"{issuer}/oauth2/clients", json={"redirect_uris": [CALLBACK]},
                           timeout=5)
    answer.raise_for_status()
    return answer.json()["client_id"], answer.json()["client_secret"]


def shown_words(text: str) -> str:
    return " ".join(text.split())


def test_a_wrong_client_secret_shows_a_configuration_fault_and_keeps_the_password_form(
        settings: Settings, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    client_id, _secret = registered_client(oidc_issuer)
    set_user(oidc_issuer, "ivy", email="ivy@council.example", groups=[])
    app = create_app(with_provider(settings, oidc_issuer, client_id, "not-the-secret"))
    with Browser(app) as client:
        start = client.get("/login/oidc", follow_redirects=False)
        answer = client.get(approve(start.headers["location"], "ivy"), follow_redirects=False)
    assert answer.status_code == 502, answer.text
    words = shown_words(answer.text)
    assert "refused" in words and "configur" in words
    assert "invalid_client" not in words and "OAuthError" not in words
    assert 'id="password"' in answer.text


def test_a_used_code_says_the_sign_in_link_expired_and_to_try_again(
        settings: Settings, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    set_user(oidc_issuer, "jo", email="jo@council.example", groups=[])
    app = create_app(with_provider(settings, oidc_issuer, "portfolio-tests", "secret"))
    with Browser(app) as client:
        first = client.get("/login/oidc", follow_redirects=False)
        used = approve(first.headers["location"], "jo")
        client.get(used, follow_redirects=False)  # the code is exchanged once
        second = client.get("/login/oidc", follow_redirects=False)
        fresh = urlsplit(approve(second.headers["location"], "jo"))
        state = parse_qs(fresh.query)["state"][0]
        code = parse_qs(urlsplit(used).query)["code"][0]
        answer = client.get("/login/oidc/callback", params={"code": code, "state": state},
                            follow_redirects=False)
    assert answer.status_code == 400, answer.text
    words = shown_words(answer.text)
    assert "expired or was already used" in words and "try again" in words
    assert "invalid_grant" not in words and "OAuthError" not in words
    assert 'id="password"' in answer.text


TENANT = "https://tenant.example.london/"


@pytest.fixture
def tenant_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "t1"})


@pytest.fixture
def tenant(monkeypatch: pytest.MonkeyPatch, tenant_key: RSAKey) -> Iterator[list[str]]:
    """A provider whose issuer ends in "/" (Auth0 does); yield the ID tokens it will send."""
    from authlib.integrations.requests_client import OAuth2Session

    documents = {
        f"{TENANT}.well-known/openid-configuration": {
            "issuer": TENANT, "authorization_endpoint": f"{TENANT}authorize",
            "token_endpoint": f"{TENANT}oauth/token", "jwks_uri": f"{TENANT}jwks"},
        f"{TENANT}jwks": KeySet([tenant_key]).as_dict(private=False),
    }
    tokens: list[str] = []
    monkeypatch.setattr(Provider, "_get", lambda self, url, what: documents[
        url.replace(TENANT.rstrip("/") + "/.well-known", f"{TENANT}.well-known")])
    monkeypatch.setattr(OAuth2Session, "fetch_token",
                        lambda self, url, **kwargs: {"id_token": tokens.pop()})
    yield tokens


def test_an_issuer_ending_in_a_slash_signs_in(
        settings: Settings, db: Database, tenant: list[str], tenant_key: RSAKey) -> None:
    app = create_app(with_provider(settings, TENANT, "portfolio-tests", "secret"))
    with Browser(app) as client:
        start = client.get("/login/oidc", follow_redirects=False)
        assert start.status_code == 303, start.text
        asked = parse_qs(urlsplit(start.headers["location"]).query)
        now = int(time.time())
        tenant.append(jwt.encode({"alg": "RS256", "kid": "t1"}, {
            "iss": TENANT, "aud": "portfolio-tests", "sub": "auth0|kim", "iat": now,
            "exp": now + 300, "nonce": asked["nonce"][0], "email": "kim@council.example",
            "name": "Kim"}, tenant_key))
        answer = client.get("/login/oidc/callback", params={
            "code": "c1", "state": asked["state"][0]}, follow_redirects=False)
    # No mapped group: the user waits for an admin, signed in as far as the provider goes.
    assert answer.status_code == 403, answer.text
    assert "waiting for access" in answer.text


def test_an_unreachable_provider_is_said_in_words(settings: Settings, db: Database) -> None:
    app = create_app(with_provider(settings, "http://127.0.0.1:9", "portfolio-tests", "s")
                     .model_copy(update={"oidc_timeout_seconds": 2.0}))
    with Browser(app) as client:
        answer = client.get("/login/oidc")
    assert answer.status_code == 502
    words = shown_words(answer.text)
    assert "could not be reached" in words
    assert "Error)" not in words and "ConnectionError" not in words
