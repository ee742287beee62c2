// A real browser against the provider: Debian's chromium driven by playwright-core, signing in to
// a small test app (a relying party served here, using openid-client for the code exchange).
// App → sign-in page → wrong password → MFA enrollment (QR + activation code) → code → back at
// the app with a verified ID token; sign out; a second visit with a fresh code (no QR); sign out.
// Also visits the other pages a user meets, so every page has a screenshot.
// Driven by the Rust test `independent_clients::a_real_browser_*`, which passes:
//   ISSUER, RP_PORT, CLIENT_ID, CLIENT_SECRET, EMAIL, PASSWORD, SCREENSHOT_DIR, REGISTER_LINK
// Exit code 0 and a last line "OK" when every check held.
import { chromium } from 'playwright-core';
import * as client from 'openid-client';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const issuer = env('ISSUER');
const email = env('EMAIL');
const password = env('PASSWORD');
const rpBase = `http://127.0.0.1:${env('RP_PORT')}`;
const shots = env('SCREENSHOT_DIR');
fs.mkdirSync(shots, { recursive: true });

// ---- The test app (relying party) ----
const config = await client.discovery(
  new URL(issuer),
  env('CLIENT_ID'),
  env('CLIENT_SECRET'),
  client.ClientSecretBasic(env('CLIENT_SECRET')),
  { execute: [client.allowInsecureRequests] },
);
client.enableNonRepudiationChecks(config);
const pending = new Map(); // state -> { verifier, nonce }
let session = null; // { claims, idToken }
const appErrors = [];
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const page = (title, body) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>` +
  `<body style="font-family:sans-serif;margin:2rem"><p style="color:#666">Demo App (test relying party)</p>${body}</body></html>`;

const app = http.createServer(async (req, res) => {
  const url = new URL(req.url, rpBase);
  const send = (status, html, headers = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(html);
  };
  try {
    if (url.pathname === '/') {
      if (session) {
        const c = session.claims;
        send(200, page('Signed in', `<h1 id="who">Signed in as ${esc(c.email)}</h1>` +
          `<p id="amr">amr: ${esc((c.amr || []).join(', '))}</p>` +
          `<p id="idle">idle_exp in ${esc(c.idle_exp - Math.floor(Date.now() / 1000))} s</p>` +
          `<p><a id="signout" href="/logout">Sign out</a></p>`));
      } else {
        send(200, page('Welcome', `<h1 id="who">Not signed in</h1><p><a id="signin" href="/login">Sign in</a></p>`));
      }
    } else if (url.pathname === '/login') {
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const state = client.randomState();
      pending.set(state, { verifier, nonce });
      const to = client.buildAuthorizationUrl(config, {
        redirect_uri: `${rpBase}/callback`,
        scope: 'openid email profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        nonce,
        state,
      });
      send(302, '', { location: to.href });
    } else if (url.pathname === '/callback') {
      const state = url.searchParams.get('state');
      const p = pending.get(state);
      assert.ok(p, 'a state this app issued');
      pending.delete(state);
      const tokens = await client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: p.verifier,
        expectedNonce: p.nonce,
        expectedState: state,
        idTokenExpected: true,
      });
      session = { claims: tokens.claims(), idToken: tokens.id_token };
      send(302, '', { location: '/' });
    } else if (url.pathname === '/logout') {
      const hint = session?.idToken;
      session = null;
      const to = client.buildEndSessionUrl(config, {
        ...(hint ? { id_token_hint: hint } : {}),
        post_logout_redirect_uri: `${rpBase}/`,
      });
      send(302, '', { location: to.href });
    } else {
      send(404, page('Not found', '<h1>Not found</h1>'));
    }
  } catch (e) {
    appErrors.push(String(e?.stack || e));
    send(500, page('App error', `<h1 id="who">App error</h1><pre>${esc(e?.message || e)}</pre>`));
  }
});
await new Promise((r) => app.listen(Number(env('RP_PORT')), '127.0.0.1', r));

// ---- The browser ----
const totp = (secret, offsetSteps = 0) => {
  const at = Math.floor(Date.now() / 1000) + offsetSteps * 30;
  return execFileSync('oathtool', ['--totp', '-b', secret.replace(/\s+/g, ''), '-N', `@${at}`]).toString().trim();
};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
});
let n = 0;
const tab = await browser.newPage({ viewport: { width: 900, height: 760 } });
const shot = async (name) => {
  n += 1;
  await tab.screenshot({ path: path.join(shots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
};
const text = async (sel) => (await tab.locator(sel).innerText()).trim();
const at = (prefix) => assert.ok(tab.url().startsWith(prefix), `expected ${prefix}, at ${tab.url()}`);

try {
  await tab.goto(`${rpBase}/`);
  assert.equal(await text('#who'), 'Not signed in');
  await shot('app-signed-out');

  // First visit: wrong password, then the right one, then the authenticator is linked.
  await tab.click('#signin');
  await tab.waitForSelector('input[name="password"]');
  at(`${issuer}/login`);
  assert.match(await tab.title(), /Sign in/);
  await shot('sign-in');
  await tab.fill('input[name="email"]', email.toUpperCase());
  await tab.fill('input[name="password"]', 'not the password');
  await tab.click('button[type="submit"]');
  await tab.waitForSelector('#form-error');
  assert.equal(await text('#form-error'), 'The email or password is not correct.');
  await shot('sign-in-error');
  await tab.fill('input[name="email"]', email);
  await tab.fill('input[name="password"]', password);
  await tab.click('button[type="submit"]');
  await tab.waitForSelector('#activation-code');
  assert.equal(await tab.locator('svg').count(), 1, 'one QR code');
  const activation = await text('#activation-code');
  assert.match(activation, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
  await shot('mfa-enroll');
  const firstStep = Math.floor(Date.now() / 1000 / 30);
  const code = totp(activation);
  await tab.fill('input[name="code"]', `${code.slice(0, 3)} ${code.slice(3)}`);
  await tab.click('button[type="submit"]');
  await tab.waitForURL(`${rpBase}/`);
  assert.equal(await text('#who'), `Signed in as ${email}`);
  assert.match(await text('#amr'), /otp/);
  await shot('app-signed-in');

  // The provider's own page while signed in, and the change-password page.
  await tab.goto(`${issuer}/`);
  await shot('provider-signed-in');
  await tab.goto(`${issuer}/password/change`);
  await tab.waitForSelector('input[name="current_password"]');
  await shot('change-password');

  // Sign out from the app: back at the app, signed out at the provider too.
  await tab.goto(`${rpBase}/`);
  await tab.click('#signout');
  await tab.waitForURL(`${rpBase}/`);
  assert.equal(await text('#who'), 'Not signed in');

  // Second visit: password, then a fresh code; the QR is never shown again.
  await tab.click('#signin');
  await tab.waitForSelector('input[name="password"]');
  await tab.fill('input[name="email"]', email);
  await tab.fill('input[name="password"]', password);
  await tab.click('button[type="submit"]');
  await tab.waitForSelector('input[name="code"]');
  assert.equal(await tab.locator('svg').count(), 0, 'no QR code once linked');
  assert.equal(await tab.locator('#activation-code').count(), 0);
  await shot('mfa-code');
  // The code of step `firstStep` was used: take the current step if it moved on, else the next one
  // (within the tolerated drift).
  const fresh = Math.floor(Date.now() / 1000 / 30) > firstStep ? totp(activation) : totp(activation, 1);
  await tab.fill('input[name="code"]', fresh);
  await tab.click('button[type="submit"]');
  await tab.waitForURL(`${rpBase}/`);
  assert.equal(await text('#who'), `Signed in as ${email}`);
  // Sign-out without an ID token hint (a bookmarked link, say) asks first.
  await tab.goto(`${issuer}/end_session`);
  assert.equal(await tab.locator('form[action="/end_session"]').count(), 1, 'a confirmation form');
  await shot('sign-out-confirm');
  await tab.goto(`${rpBase}/`);
  await tab.click('#signout');
  await tab.waitForURL(`${rpBase}/`);
  assert.equal(await text('#who'), 'Not signed in');

  // The other pages a user may meet.
  await tab.goto(`${issuer}/end_session`);
  await shot('signed-out');
  await tab.goto(`${issuer}/forgot`);
  await tab.waitForSelector('input[name="email"]');
  await shot('forgot-password');
  await tab.fill('input[name="email"]', email);
  await tab.click('button[type="submit"]');
  await tab.waitForSelector('h1');
  assert.equal(await text('h1'), 'Check your email');
  await shot('forgot-password-sent');
  await tab.goto(env('REGISTER_LINK'));
  await tab.waitForSelector('input[name="new_password"]');
  await shot('complete-registration');
  await tab.fill('input[name="new_password"]', 'password1234');
  await tab.fill('input[name="confirm_password"]', 'password1234');
  await tab.click('button[type="submit"]');
  await tab.waitForSelector('#form-error');
  await shot('complete-registration-refused');
  await tab.goto(`${issuer}/reset?token=not-a-real-token`);
  await shot('link-invalid');
  await tab.goto(`${issuer}/authorize?client_id=unknown&response_type=code`);
  await shot('authorize-error');

  assert.deepEqual(appErrors, [], 'the test app saw no error');
  console.log(`screenshots in ${shots}`);
  console.log('OK');
} catch (e) {
  await shot('failure').catch(() => {});
  console.error(appErrors.join('\n'));
  throw e;
} finally {
  await browser.close();
  app.close();
}
