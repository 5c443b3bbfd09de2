"""An OpenID Connect client for FranceConnect v2 (authorization-code flow).

Flask-free: the views hand it the state, nonce and redirect addresses they
keep in the browser session. Authlib builds the authorization request and
joserfc (Authlib's JOSE library) checks every signature. HTTP calls have a
bounded time-out; the provider's metadata and keys are cached, and the keys
fetched again once when a token names an unknown key."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import urlsafe_b64decode
from dataclasses import dataclass
from dataclasses import field

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

ALGORITHMS = ["ES256", "RS256"]
SCOPE = "openid given_name family_name birthdate gender birthplace birthcountry email"
METADATA_TTL = 3600
CLAIMS = ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry", "email")


class OidcError(Exception):
    """The sign-in with the provider failed. ``reason`` is a short code for the
    audit log; ``message`` the French sentence shown to the person."""

    def __init__(self, reason: str, message: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.message = message or (
            "La connexion avec FranceConnect n'a pas pu aboutir. "
            "Réessayez, ou connectez-vous avec votre adresse e-mail et votre mot de passe."
        )


UNAVAILABLE = (
    "FranceConnect ne répond pas pour le moment. Réessayez dans quelques minutes, "
    "ou connectez-vous avec votre adresse e-mail et votre mot de passe."
)


@dataclass
class _Cache:
    metadata: dict | None = None
    metadata_at: float = 0.0
    keys: KeySet | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_caches: dict[str, _Cache] = {}
_caches_lock = threading.Lock()


def _cache_for(url: str) -> _Cache:
    with _caches_lock:
        return _caches.setdefault(url, _Cache())


def forget_cached(url: str | None = None) -> None:
    """Drop cached metadata and keys (tests, or after a key rotation)."""
    with _caches_lock:
        if url is None:
            _caches.clear()
        else:
            _caches.pop(url, None)


class Provider:
    def __init__(self, discovery_url: str, client_id: str, client_secret: str,
                 timeout: float = 5.0, acr_values: str = "eidas1", scope: str = SCOPE):
        self.discovery_url = discovery_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self.acr_values = acr_values
        self.scope = scope
        self._cache = _cache_for(discovery_url)

    # -------------------------------------------------------------- HTTP

    def _request(self, url: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode("utf-8", "replace")
            raise OidcError(f"http_{error.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise OidcError(f"unreachable: {error}", UNAVAILABLE) from None

    def _json(self, url: str, **kwargs) -> dict:
        _, body = self._request(url, **kwargs)
        try:
            value = json.loads(body)
        except ValueError:
            raise OidcError("invalid_json") from None
        if not isinstance(value, dict):
            raise OidcError("invalid_json")
        return value

    def metadata(self) -> dict:
        cache = self._cache
        with cache.lock:
            if cache.metadata is None or time.time() - cache.metadata_at > METADATA_TTL:
                metadata = self._json(self.discovery_url)
                for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not metadata.get(name):
                        raise OidcError(f"discovery_missing_{name}")
                cache.metadata = metadata
                cache.metadata_at = time.time()
            return cache.metadata

    def keys(self, refresh: bool = False) -> KeySet:
        cache = self._cache
        with cache.lock:
            if cache.keys is None or refresh:
                jwks = self._json(self._endpoint("jwks_uri"))
                try:
                    cache.keys = KeySet.import_key_set(jwks)
                except (JoseError, ValueError, TypeError) as error:
                    raise OidcError(f"invalid_jwks: {error}") from None
            return cache.keys

    def _endpoint(self, name: str) -> str:
        metadata = self._cache.metadata or self.metadata()
        value = metadata.get(name)
        if not value:
            raise OidcError(f"no_{name}")
        return value

    # -------------------------------------------------------------- flow

    def authorization_url(self, redirect_uri: str, state: str, nonce: str) -> str:
        return prepare_grant_uri(
            self.metadata()["authorization_endpoint"],
            client_id=self.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=self.scope,
            state=state,
            nonce=nonce,
            acr_values=self.acr_values,
        )

    def exchange_code(self, code: str, redirect_uri: str) -> dict:
        """Trade the authorization code for tokens (client_secret_post)."""
        token = self._json(
            self.metadata()["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            headers={"Accept": "application/json"},
        )
        if not token.get("id_token") or not token.get("access_token"):
            raise OidcError("token_response_incomplete")
        return token

    def _decode(self, value: str) -> jwt.Token:
        """Check the signature against the provider's keys, refetching them
        once when the token names a key we do not know."""
        try:
            header = json.loads(_b64decode(value.split(".")[0]))
        except (ValueError, IndexError):
            raise OidcError("malformed_jwt") from None
        keys = self.keys()
        kid = header.get("kid")
        if kid and not any(key.kid == kid for key in keys.keys):
            keys = self.keys(refresh=True)
            if not any(key.kid == kid for key in keys.keys):
                raise OidcError("unknown_kid")
        try:
            return jwt.decode(value, keys, algorithms=ALGORITHMS)
        except JoseError as error:
            raise OidcError(f"bad_signature: {error.error}") from None
        except (ValueError, TypeError) as error:
            raise OidcError(f"malformed_jwt: {error}") from None

    def verify_id_token(self, id_token: str, nonce: str) -> dict:
        token = self._decode(id_token)
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": self.metadata()["issuer"]},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise OidcError(f"id_token_{error.error}: {error.description or ''}".strip()) from None
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and claims.get("azp") != self.client_id:
            raise OidcError("id_token_azp")
        if claims.get("iat", 0) > time.time() + 60:
            raise OidcError("id_token_iat_in_future")
        accepted = self.acr_values.split()
        if claims.get("acr") not in accepted:
            raise OidcError(f"id_token_acr: {claims.get('acr')!r}")
        return dict(claims)

    def userinfo(self, access_token: str, subject: str) -> dict:
        """The identity claims; a signed JWT (FranceConnect v2) or plain JSON."""
        content_type, body = self._request(
            self.metadata()["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}",
                     "Accept": "application/jwt, application/json"},
        )
        if content_type == "application/jwt":
            claims = dict(self._decode(body.decode("ascii", "replace").strip()).claims)
            if claims.get("iss") not in (None, self.metadata()["issuer"]):
                raise OidcError("userinfo_iss")
            aud = claims.get("aud")
            if aud is not None and self.client_id not in (aud if isinstance(aud, list) else [aud]):
                raise OidcError("userinfo_aud")
        else:
            try:
                claims = json.loads(body)
            except ValueError:
                raise OidcError("userinfo_invalid_json") from None
        if not isinstance(claims, dict) or claims.get("sub") != subject:
            raise OidcError("userinfo_sub_mismatch")
        return claims

    def end_session_url(self, id_token_hint: str, state: str, post_logout_redirect_uri: str) -> str | None:
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        query = urllib.parse.urlencode({
            "id_token_hint": id_token_hint,
            "state": state,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        })
        return endpoint + ("&" if "?" in endpoint else "?") + query


def _b64decode(value: str) -> bytes:
    return urlsafe_b64decode(value + "=" * (-len(value) % 4))
