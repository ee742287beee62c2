"""A relying party built on Authlib (an independent OAuth 2.0 / OpenID Connect library): code
flow with PKCE S256, the ID token verified against the JWKS with authlib.jose, a refresh the
way Authlib does it (it re-sends the original request's scope, `offline_access` included), and
userinfo. Prints each step, then OK. Driven by integration-tests/tests/suite/independent_clients.rs.
"""

import os
import re
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken

issuer = os.environ["ISSUER"]
client_id = os.environ["CLIENT_ID"]
email = os.environ["EMAIL"]

meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
assert meta["issuer"] == issuer, meta
print("discovery")

# Scope as many apps ask for it: `offline_access` is not a value this provider grants.
scope = "openid email profile offline_access"
client = OAuth2Session(
    client_id,
    os.environ["CLIENT_SECRET"],
    scope=scope,
    redirect_uri=os.environ["REDIRECT_URI"],
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic",
)
verifier = generate_token(48)
nonce = generate_token(20)
url, state = client.create_authorization_url(
    meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
)

# The user's browser on the hosted pages.
browser = requests.Session()
page = browser.get(url, allow_redirects=False, timeout=10)
while page.status_code in (302, 303):
    page = browser.get(urljoin(issuer, page.headers["location"]), allow_redirects=False, timeout=10)
tag = re.search(r'<input[^>]*name="csrf"[^>]*>', page.text)
assert tag, page.text
csrf = re.search(r'value="([^"]+)"', tag.group(0)).group(1)
answer = browser.post(
    issuer + "/login/password",
    data={"csrf": csrf, "email": email, "password": os.environ["PASSWORD"]},
    allow_redirects=False,
    timeout=10,
)
assert answer.status_code == 303, answer.text
callback = answer.headers["location"]
assert callback.startswith(os.environ["REDIRECT_URI"] + "?"), callback

token = client.fetch_token(
    meta["token_endpoint"],
    authorization_response=callback,
    code_verifier=verifier,
    state=state,
)
print("code + PKCE")

jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
claims = JsonWebToken(["RS256", "ES256", "EdDSA"]).decode(
    token["id_token"],
    jwks,
    claims_options={
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "nonce": {"essential": True, "value": nonce},
    },
)
claims.validate()
assert claims["email"] == email, claims
assert claims["idle_exp"] > claims["iat"], claims
print("id token")

# Authlib re-sends the original scope on refresh; values never granted are ignored, so this
# works (before, it was refused as wider than the grant and the user was signed out).
refreshed = client.refresh_token(meta["token_endpoint"])
assert refreshed["access_token"] != token["access_token"]
assert refreshed["refresh_token"] != token["refresh_token"]
assert sorted(refreshed["scope"].split()) == ["email", "openid", "profile"], refreshed
again = client.refresh_token(meta["token_endpoint"])
assert again["refresh_token"] != refreshed["refresh_token"]
print("refresh")

info = client.get(meta["userinfo_endpoint"], timeout=10).json()
assert info["sub"] == claims["sub"] and info["email"] == email, info
print("userinfo")

# An API behind the app (a resource server registered with `introspect = true`) asks whether
# the access token it was handed is still good (RFC 7662), with Authlib's own client.
if os.environ.get("API_CLIENT_ID"):
    api = OAuth2Session(
        os.environ["API_CLIENT_ID"],
        os.environ["API_CLIENT_SECRET"],
        token_endpoint_auth_method="client_secret_basic",
    )
    access = client.token["access_token"]
    seen = api.introspect_token(
        meta["introspection_endpoint"], token=access, token_type_hint="access_token"
    )
    seen.raise_for_status()
    live = seen.json()
    assert live["active"] is True, live
    assert live["sub"] == claims["sub"] and live["client_id"] == client_id, live
    assert live["sid"] == claims["sid"] and live["idle_exp"] >= claims["idle_exp"], live
    print("introspection")

    # The app signs the user out of itself: it revokes its refresh token (RFC 7009), which ends
    # the grant, so the API hears at once that the access token is dead too.
    gone = client.revoke_token(
        meta["revocation_endpoint"],
        token=client.token["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert gone.status_code == 200, gone.text
    dead = api.introspect_token(meta["introspection_endpoint"], token=access).json()
    assert dead == {"active": False}, dead
    refused = requests.get(
        meta["userinfo_endpoint"],
        headers={"Authorization": "Bearer " + access},
        timeout=10,
    )
    assert refused.status_code == 401, refused.text
    print("revocation")
print("OK")
