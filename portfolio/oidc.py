"""An OpenID Connect provider as this app uses it: discovery, keys, and the code flow with PKCE.

The discovery document is kept for a while and fetched again after it; the provider's keys
are kept until an ID token names a key they do not hold (the provider rotated its keys), then
fetched again, at most once per KEYS_REFRESH_SECONDS. Nothing is fetched when the app starts:
a provider that cannot be reached only makes sign-in through it fail, with a message.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from portfolio.errors import DomainError

if TYPE_CHECKING:
    # Imported where a sign-in uses them: a worker with single sign-on off would carry 14 MB
    # of HTTP client it never calls (measured with the app's other modules loaded).
    from authlib.integrations.requests_client import OAuth2Session

# Algorithms an ID token may be signed with (never "none", never a shared secret).
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
KEYS_REFRESH_SECONDS = 10.0
# Clocks of the provider and this app may differ by this much.
LEEWAY_SECONDS = 60


class ProviderUnavailable(DomainError):
    """The provider could not be asked, or its answer cannot be used: its configuration's fault."""

    status_code = 502


class SignInRefused(DomainError):
    """The provider's answer does not prove who is signing in (a forged, stale or replayed one)."""

    status_code = 400


@dataclass(frozen=True)
class ProviderSettings:
    """Where the provider is and who this app is to it."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    groups_claim: str = "groups"
    timeout_seconds: float = 5.0
    metadata_seconds: int = 3600
    require_https: bool = True

    @classmethod
    def of(cls, settings: Any) -> ProviderSettings:
        """Return the provider settings a set of settings names."""
        return cls(issuer=settings.oidc_issuer.rstrip("/"), client_id=settings.oidc_client_id,
                   client_secret=settings.oidc_client_secret, scopes=settings.oidc_scopes,
                   groups_claim=settings.oidc_groups_claim,
                   timeout_seconds=settings.oidc_timeout_seconds,
                   metadata_seconds=settings.oidc_metadata_seconds,
                   require_https=not settings.is_development)


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser's session keeps between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str

    def as_dict(self) -> dict[str, str]:
        """Return the pending sign-in as the session stores it."""
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier}


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    issuer: str
    subject: str
    email: str
    name: str
    groups: tuple[str, ...]
    email_verified: bool
    id_token: str = ""


# What the token endpoint's refusals mean to the person signing in (RFC 6749, 5.2).
_USED_OR_EXPIRED = ("the sign-in link expired or was already used (a page sent twice, or "
                    "left open too long); try again")
_MISCONFIGURED = ("the provider refused the sign-in: single sign-on is misconfigured here (the "
                  "provider does not accept this app's client ID or secret); tell an "
                  "administrator")


def _refusal(code: str) -> DomainError:
    """Return the error to show for a token endpoint's refusal, by its error code."""
    if code == "invalid_grant":
        return SignInRefused(_USED_OR_EXPIRED)
    if code in {"invalid_client", "unauthorized_client", "unsupported_grant_type",
                "invalid_scope"}:
        return ProviderUnavailable(_MISCONFIGURED)
    return SignInRefused("the provider refused the sign-in; try again")


def _why_unread(exc: Exception) -> str:
    """Say in words why a request to the provider failed (never the exception's class)."""
    import requests

    if isinstance(exc, requests.Timeout):
        return "the provider did not answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "the provider could not be reached"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"the provider answered with an error, status {exc.response.status_code}"
    if isinstance(exc, ValueError):
        return "the provider's answer is not JSON"
    return "the request to the provider failed"


class Provider:
    """One OpenID Connect provider: its discovery document and keys, kept by this process."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def _get(self, url: str, what: str) -> dict[str, Any]:
        """Fetch a JSON document from the provider, refusing plain HTTP in production."""
        if self.settings.require_https and urlsplit(url).scheme != "https":
            raise ProviderUnavailable(
                f"single sign-on is misconfigured: the provider's {what} ({url}) must use "
                "HTTPS outside development")
        import requests

        try:
            answer = requests.get(url, timeout=self.settings.timeout_seconds,
                                  headers={"Accept": "application/json"})
            answer.raise_for_status()
            document = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(
                f"single sign-on is unavailable: the provider's {what} could not be read "
                f"({_why_unread(exc)}); try again later") from None
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"single sign-on is unavailable: the provider's {what} "
                                      "is not a JSON object")
        return document

    def metadata(self) -> dict[str, Any]:
        """Return the discovery document, fetched again once it is older than allowed."""
        with self._lock:
            kept = self._metadata
        if kept is not None and time.monotonic() - kept[0] < self.settings.metadata_seconds:
            return kept[1]
        issuer = self.settings.issuer
        document = self._get(f"{issuer}/.well-known/openid-configuration",
                             "discovery document")
        if str(document.get("issuer", "")).rstrip("/") != issuer:
            raise ProviderUnavailable(
                f"single sign-on is misconfigured: the provider calls itself "
                f"{document.get('issuer')!r}, not {issuer!r}")
        for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(needed), str):
                raise ProviderUnavailable(f"single sign-on is misconfigured: the provider's "
                                          f"discovery document has no {needed}")
        with self._lock:
            self._metadata = (time.monotonic(), document)
        return document

    def keys(self, *, refresh: bool = False) -> KeySet:
        """Return the provider's signing keys, fetched again when asked (rotated keys)."""
        with self._lock:
            kept = self._keys
        if kept is not None and not (refresh and time.monotonic() - kept[0]
                                     >= KEYS_REFRESH_SECONDS):
            return kept[1]
        document = self._get(self.metadata()["jwks_uri"], "keys")
        try:
            found = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError):
            raise ProviderUnavailable("single sign-on is misconfigured: the provider's keys "
                                      "cannot be read") from None
        with self._lock:
            self._keys = (time.monotonic(), found)
        return found

    def _client(self, redirect_uri: str) -> OAuth2Session:
        """Return an OAuth client of the provider for one sign-in."""
        from authlib.integrations.requests_client import OAuth2Session

        return OAuth2Session(self.settings.client_id, self.settings.client_secret,
                             scope=self.settings.scopes, redirect_uri=redirect_uri,
                             code_challenge_method="S256")

    def start(self, redirect_uri: str) -> tuple[str, PendingSignIn]:
        """Return the provider's sign-in address and what to keep until the browser is back."""
        from authlib.common.security import generate_token

        endpoint = self.metadata()["authorization_endpoint"]
        if self.settings.require_https and urlsplit(endpoint).scheme != "https":
            raise ProviderUnavailable("single sign-on is misconfigured: the provider's sign-in "
                                      "page must use HTTPS outside development")
        pending = PendingSignIn(state=generate_token(32), nonce=generate_token(32),
                                verifier=generate_token(64))
        url, _state = self._client(redirect_uri).create_authorization_url(
            endpoint, state=pending.state, code_verifier=pending.verifier, nonce=pending.nonce)
        return url, pending

    def finish(self, *, code: str, redirect_uri: str, pending: PendingSignIn) -> Identity:
        """Exchange the code (with the PKCE verifier) and verify the ID token it brings."""
        import requests
        from authlib.integrations.base_client.errors import OAuthError
        from authlib.oauth2.rfc6749.errors import OAuth2Error

        endpoint = self.metadata()["token_endpoint"]
        if self.settings.require_https and urlsplit(endpoint).scheme != "https":
            raise ProviderUnavailable("single sign-on is misconfigured: the provider's token "
                                      "endpoint must use HTTPS outside development")
        try:
            token = self._client(redirect_uri).fetch_token(
                endpoint, code=code, code_verifier=pending.verifier,
                timeout=self.settings.timeout_seconds)
        except (OAuthError, OAuth2Error) as exc:
            # The requests client raises OAuthError; OAuth2Error is the protocol layer's own.
            raise _refusal(str(exc.error or "")) from None
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(
                f"single sign-on is unavailable: the provider's token endpoint could not be "
                f"reached ({_why_unread(exc)}); try again later") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("the provider sent no ID token; start again")
        return self.verify(id_token, nonce=pending.nonce)

    def verify(self, id_token: str, *, nonce: str, now: int | None = None) -> Identity:
        """Check an ID token's signature and claims (issuer, audience, expiry, nonce)."""
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=SIGNING_ALGORITHMS)
            except (InvalidKeyIdError, BadSignatureError):
                # The provider may have rotated its keys since they were fetched.
                token = jwt.decode(id_token, self.keys(refresh=True),
                                   algorithms=SIGNING_ALGORITHMS)
        except (BadSignatureError, InvalidKeyIdError):
            raise SignInRefused("the sign-in could not be verified: the ID token's signature "
                                "does not match the provider's keys") from None
        except (JoseError, ValueError):
            raise SignInRefused("the sign-in could not be verified: the ID token the provider "
                                "sent is not one this app can read; start again") from None
        claims = token.claims
        # The ID token names its issuer exactly as the discovery document does ("/" and all);
        # the setting is kept without a trailing "/" only to build addresses from it.
        issuer = str(self.metadata().get("issuer") or self.settings.issuer)
        registry = jwt.JWTClaimsRegistry(
            now=now, leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": self.settings.client_id},
            sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            nonce={"essential": True, "value": nonce})
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise SignInRefused("the sign-in has expired; start again") from None
        except JoseError as exc:
            claim = getattr(exc, "claim", None) or str(exc)
            raise SignInRefused(f"the sign-in could not be verified: the ID token's {claim} "
                                "is missing or wrong") from None
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != \
                self.settings.client_id:
            raise SignInRefused("the sign-in could not be verified: the ID token was issued "
                                "for another client")
        return self._identity(claims, id_token)

    def _identity(self, claims: dict[str, Any], id_token: str) -> Identity:
        """Return who signed in, from verified claims."""
        groups = claims.get(self.settings.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        email = str(claims.get("email") or "")
        return Identity(
            issuer=self.settings.issuer, subject=str(claims["sub"]), email=email,
            # No name claim: the given and family names, else none (the service names the
            # user by the address's local part, never the address itself).
            name=str(claims.get("name") or " ".join(
                str(claims[k]) for k in ("given_name", "family_name") if claims.get(k))),
            groups=tuple(str(g) for g in groups if isinstance(g, str | int)),
            email_verified=claims.get("email_verified") is True, id_token=id_token)

    def end_session_url(self, *, after: str, id_token: str | None = None) -> str | None:
        """Return the provider's sign-out address (RP-initiated logout), if it has one."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except ProviderUnavailable:
            return None
        if not isinstance(endpoint, str):
            return None
        query = {"client_id": self.settings.client_id, "post_logout_redirect_uri": after}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
