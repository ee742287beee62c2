// An independent relying party: panva's openid-client (OpenID Certified) against our provider.
// Discovery, code + PKCE, ID token validation (signature checked against the JWKS), userinfo,
// refresh (rotation, sliding idle_exp), RP-initiated logout; then the refresh token must be dead.
// Driven by the Rust test `independent_clients::openid_client_*`, which passes:
//   ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, EMAIL, PASSWORD
// Exit code 0 and a last line "OK" when every check held; otherwise the failing check.
import * as client from 'openid-client';
import assert from 'node:assert/strict';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const issuer = env('ISSUER');
const redirectUri = env('REDIRECT_URI');
const postLogout = env('POST_LOGOUT_REDIRECT_URI');
const email = env('EMAIL');

// A tiny browser for the hosted pages: keeps cookies for the issuer, follows nothing by itself.
const jar = new Map();
async function browse(url, init = {}) {
  const headers = new Headers(init.headers || {});
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i);
    const value = pair.slice(i + 1);
    if (/max-age=0/i.test(c) || value === '') jar.delete(name);
    else jar.set(name, value);
  }
  return res;
}
// Follows redirects while they stay on the issuer; returns the last response and its URL.
async function follow(url, init) {
  let res = await browse(url, init);
  let current = new URL(url);
  for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
    const next = new URL(res.headers.get('location'), current);
    if (next.origin !== new URL(issuer).origin) return { res, url: next };
    current = next;
    res = await browse(next);
  }
  return { res, url: current };
}
const field = (html, name) => {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  assert.ok(m, `field ${name} in page`);
  return m[1];
};

async function signIn(authUrl) {
  const { res } = await follow(authUrl);
  assert.equal(res.status, 200, 'the sign-in page');
  const page = await res.text();
  assert.match(page, /autocomplete="current-password"/);
  const form = new URLSearchParams({ csrf: field(page, 'csrf'), email, password: env('PASSWORD') });
  const { url } = await follow(new URL('/login/password', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  assert.equal(`${url.origin}${url.pathname}`, redirectUri, 'back at the app');
  return url;
}

const config = await client.discovery(
  new URL(issuer),
  env('CLIENT_ID'),
  env('CLIENT_SECRET'),
  client.ClientSecretBasic(env('CLIENT_SECRET')),
  { execute: [client.allowInsecureRequests] },
);
// Verify ID token signatures against the JWKS (openid-client skips it over TLS by default).
client.enableNonRepudiationChecks(config);
const meta = config.serverMetadata();
assert.equal(meta.issuer, issuer);
assert.ok(meta.code_challenge_methods_supported.includes('S256'));
assert.ok(meta.end_session_endpoint, 'end_session_endpoint advertised');
console.log('discovery ok');

const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid email profile',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  nonce,
  state,
});
const callback = await signIn(authUrl);
const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
assert.equal(claims.iss, issuer);
assert.equal(claims.aud, env('CLIENT_ID'));
assert.equal(claims.email, email);
assert.ok(claims.sid, 'sid claim');
const now = Math.floor(Date.now() / 1000);
assert.ok(claims.idle_exp > now && claims.idle_exp <= now + 1800 + 5, `idle_exp ${claims.idle_exp}`);
assert.ok(tokens.refresh_token, 'a refresh token');
console.log('code + PKCE + ID token ok');

const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
assert.equal(info.sub, claims.sub);
assert.equal(info.email, email);
console.log('userinfo ok');

await new Promise((r) => setTimeout(r, 1100));
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh tokens rotate');
const refreshedClaims = refreshed.claims();
assert.ok(refreshedClaims, 'a refresh returns a new ID token');
assert.equal(refreshedClaims.sub, claims.sub);
assert.ok(refreshedClaims.idle_exp > claims.idle_exp, 'idle_exp slides on refresh');
const info2 = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
assert.equal(info2.sub, claims.sub);
console.log('refresh ok');

const logoutUrl = client.buildEndSessionUrl(config, {
  id_token_hint: refreshed.id_token,
  post_logout_redirect_uri: postLogout,
  state: 'bye',
});
const { url: after } = await follow(logoutUrl);
assert.equal(`${after.origin}${after.pathname}`, postLogout, 'back at the app after logout');
assert.equal(after.searchParams.get('state'), 'bye');
await assert.rejects(
  client.refreshTokenGrant(config, refreshed.refresh_token),
  (e) => e.error === 'invalid_grant',
  'logout kills the refresh token',
);
await assert.rejects(
  client.fetchUserInfo(config, refreshed.access_token, claims.sub),
  (e) => {
    // A 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 3.1), nothing else.
    assert.equal(e.code, 'OAUTH_WWW_AUTHENTICATE_CHALLENGE', String(e));
    assert.equal(e.status, 401);
    assert.equal(e.cause?.[0]?.scheme, 'bearer');
    assert.equal(e.cause?.[0]?.parameters?.error, 'invalid_token');
    return true;
  },
  'the access token of an ended session is refused at userinfo',
);
const again = await follow(authUrl);
assert.match(await again.res.text(), /autocomplete="current-password"/, 'signed out at the provider');
console.log('logout ok');
console.log('OK');
