"""The client's checks, straight against the demo provider's keys and tokens."""

from __future__ import annotations

from joserfc.jwk import ECKey
from joserfc.jwk import KeySet

from citoyen import oidc
from tests.franceconnect.conftest import CLIENT_ID
from tests.franceconnect.conftest import SECRET
from tests.franceconnect.conftest import round_trip


def provider_for(idp) -> oidc.Provider:
    return oidc.Provider(idp.issuer + "/.well-known/openid-configuration", CLIENT_ID, SECRET, timeout=2)


def test_metadata_and_keys_are_cached(idp):
    provider = provider_for(idp)
    assert provider.metadata()["issuer"] == idp.issuer
    first = provider.keys()
    assert provider.keys() is first
    assert {key.alg or "ES256" for key in first.keys} == {"ES256"}


def test_keys_are_fetched_again_once_for_an_unknown_kid(client, idp, app):
    provider = provider_for(idp)
    provider.metadata()
    # A stale key set, as after a key rotation at the provider.
    provider._cache.keys = KeySet([ECKey.generate_key("P-256", parameters={"kid": "old"})])
    response = round_trip(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/connexion/franceconnect/premiere-connexion"
    assert {key.kid for key in provider._cache.keys.keys} != {"old"}


def test_end_session_url_has_the_three_parameters(idp):
    url = provider_for(idp).end_session_url("token", "state123", "http://localhost/deconnexion/franceconnect")
    assert url.startswith(idp.issuer + "/session/end?")
    assert "id_token_hint=token" in url and "state=state123" in url
    assert "post_logout_redirect_uri=http%3A%2F%2Flocalhost%2Fdeconnexion%2Ffranceconnect" in url
