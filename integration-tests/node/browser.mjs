// A real browser against the provider: Debian's chromium driven by playwright-core, signing in to
// a small test app (a relying party served here, using openid-client for the code exchange).
// App → sign-in page → wrong password → MFA enrollment (QR + activation code) → code → back at
// the app with a verified ID token; a second device signs in to the app as the same user, and
// the user signs it out on their own page (`/account`, with the keyboard only): the app receives
// that session's back-channel logout token; sign out; a second visit with a fresh code (no QR);
// sign out. Also visits the other pages a user meets, so every page has a screenshot. All of it twice: in
// English (browser locale en-US), then in Spanish (browser locale es-ES, and the app asks for
// `ui_locales=es`), with a user each, every page checked to speak its language. On every page of the
// provider: axe-core finds no WCAG 2.1 A or AA violation, the page has a `lang` and one h1, and
// at 320 CSS px (what 400% zoom of a 1280 px window gives, WCAG 1.4.10) nothing overflows
// sideways (a second screenshot at that width). The first sign-in (wrong password, enrollment,
// code) is done with the keyboard only: Tab, Shift+Tab, typing and Enter, focus visible at each
// step and moved to the error message after the refusal.
// Driven by the Rust test `independent_clients::a_real_browser_*`, which passes:
//   ISSUER, RP_PORT, CLIENT_ID, CLIENT_SECRET, EMAIL, PASSWORD, SCREENSHOT_DIR, REGISTER_LINK,
//   OUTBOX_DIR (the file mail outbox, for the reset link), EMAIL_ES (the Spanish walk's user)
// The test app keeps one session per browser (a cookie) and ends the one a back-channel logout
// token names.
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
const sessions = new Map(); // the app's cookie -> { claims, idToken }
const logoutTokens = []; // the claims of every back-channel logout token received
let appLocale = null; // the ui_locales the app sends, if any
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
  const cookieOf = () => (req.headers.cookie || '').split(';').map((c) => c.trim())
    .find((c) => c.startsWith('rp='))?.slice(3);
  const session = sessions.get(cookieOf());
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
        ...(appLocale ? { ui_locales: appLocale } : {}),
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
      const id = client.randomState();
      sessions.set(id, { claims: tokens.claims(), idToken: tokens.id_token });
      send(302, '', { location: '/', 'set-cookie': `rp=${id}; Path=/; HttpOnly; SameSite=Lax` });
    } else if (url.pathname === '/logout') {
      const hint = session?.idToken;
      sessions.delete(cookieOf());
      const to = client.buildEndSessionUrl(config, {
        ...(hint ? { id_token_hint: hint } : {}),
        post_logout_redirect_uri: `${rpBase}/`,
      });
      send(302, '', { location: to.href });
    } else if (url.pathname === '/backchannel' && req.method === 'POST') {
      // OpenID Connect Back-Channel Logout 1.0: the provider posts a logout token; the app ends
      // the session it names. (The Rust suite verifies these tokens' signatures; here the app
      // reads its claims.)
      let body = '';
      for await (const chunk of req) body += chunk;
      const token = new URLSearchParams(body).get('logout_token');
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
      assert.ok(claims.events['http://schemas.openid.net/event/backchannel-logout'], 'a logout event');
      assert.equal(claims.aud, env('CLIENT_ID'));
      logoutTokens.push(claims);
      for (const [id, s] of sessions) if (s.claims.sid === claims.sid) sessions.delete(id);
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end();
    } else {
      send(404, page('Not found', '<h1>Not found</h1>'));
    }
  } catch (e) {
    appErrors.push(String(e?.stack || e));
    send(500, page('App error', `<h1 id="who">App error</h1><pre>${esc(e?.message || e)}</pre>`));
  }
});
await new Promise((r) => app.listen(Number(env('RP_PORT')), '127.0.0.1', r));

// The newest link to `pathname` in the file outbox (the mail the last request caused).
const linkFromOutbox = async (pathname) => {
  const dir = env('OUTBOX_DIR');
  const prefix = `${issuer}${pathname}?token=`;
  for (let i = 0; i < 100; i += 1) {
    const files = fs.readdirSync(dir).map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      const at = text.indexOf(prefix);
      if (at >= 0) return prefix + text.slice(at + prefix.length).match(/^[A-Za-z0-9_-]+/)[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${pathname} link in ${dir}`);
};

// ---- The browser ----
const totpAt = (secret, step) =>
  execFileSync('oathtool', ['--totp', '-b', secret.replace(/\s+/g, ''), '-N', `@${step * 30}`]).toString().trim();
// A code the provider takes next: of a step after the last one used (a code is good once) and
// at most one step ahead of the clock (the drift it allows); waits for the clock when needed.
let lastStep = 0;
const nextCode = async (secret) => {
  for (;;) {
    const now = Math.floor(Date.now() / 1000 / 30);
    const step = Math.max(lastStep + 1, now);
    if (step <= now + 1) {
      lastStep = step;
      return totpAt(secret, step);
    }
    await new Promise((r) => setTimeout(r, (30 - ((Date.now() / 1000) % 30)) * 1000 + 300));
  }
};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
});
let n = 0;
// bypassCSP lets the test inject axe-core; the pages' own policy allows no script at all.
let context;
let tab;
let lang = 'en'; // the walk's language: pages must declare it
let suffix = ''; // of screenshot and page names: '' in English, '-es' in Spanish
const axeSource = fs.readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const audited = [];
// axe-core at WCAG 2.1 A and AA, the document's language and its one h1.
const audit = async (name) => {
  await tab.addScriptTag({ content: axeSource });
  const result = await tab.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((x) => x.target.join(' ')).join(', ')}`);
  assert.deepEqual(found, [], `${name}: axe-core found WCAG 2.1 A/AA violations`);
  assert.equal(await tab.evaluate(() => document.documentElement.lang), lang, `${name}: lang attribute`);
  assert.equal(await tab.locator('h1').count(), 1, `${name}: one h1`);
  audited.push(name);
};
// The same page at 320 CSS px: no sideways scrolling, and a screenshot.
const narrow = async (name) => {
  await tab.setViewportSize({ width: 320, height: 640 });
  const overflow = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name}: ${overflow} px wider than a 320 px screen`);
  await tab.screenshot({ path: path.join(shots, `${String(n).padStart(2, '0')}-${name}${suffix}-320px.png`), fullPage: true });
  await tab.setViewportSize({ width: 900, height: 760 });
};
const shot = async (name) => {
  n += 1;
  await tab.screenshot({ path: path.join(shots, `${String(n).padStart(2, '0')}-${name}${suffix}.png`), fullPage: true });
  if (tab.url().startsWith(issuer)) {
    await audit(`${name}${suffix}`);
    await narrow(name);
  }
};
// What the walk reads on the pages, per language.
const words = {
  en: { locale: 'en-US', signIn: /Sign in/, wrong: 'The email or password is not correct.',
    qr: /activation code/, sent: 'Check your email', tooMany: /Too many/, account: 'Your account',
    other: 'Firefox on Windows 10', ended: 'That session was signed out, and its apps were told.' },
  es: { locale: 'es-ES', signIn: /Iniciar sesión/, wrong: 'El correo electrónico o la contraseña no son correctos.',
    qr: /código de activación/, sent: 'Revise su correo', tooMany: /Demasiados/, account: 'Su cuenta',
    other: 'Firefox en Windows 10', ended: 'Se cerró esa sesión y se avisó a sus aplicaciones.' },
};
// Keyboard only: the focused element, and that its focus is visible (an outline is drawn).
const focused = () => tab.evaluate(() => {
  const el = document.activeElement;
  const st = getComputedStyle(el);
  return { id: el.id, tag: el.tagName.toLowerCase(), name: el.getAttribute('name'), visible: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0 };
});
const expectFocus = async (want, step) => {
  const f = await focused();
  assert.ok(f.id === want || f.name === want, `${step}: focus on ${want}, is on ${JSON.stringify(f)}`);
  assert.ok(f.visible, `${step}: the focus on ${want} is visible`);
};
const tabTo = async (want, step, key = 'Tab') => {
  for (let i = 0; i < 4; i += 1) {
    await tab.keyboard.press(key);
    const f = await focused();
    assert.ok(f.visible, `${step}: every focused element shows its focus (${JSON.stringify(f)})`);
    if (f.id === want || f.name === want) return;
  }
  assert.fail(`${step}: ${key} never reached ${want}`);
};
const text = async (sel) => (await tab.locator(sel).innerText()).trim();
// The other device's browser.
const otherDevice = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const at = (prefix) => assert.ok(tab.url().startsWith(prefix), `expected ${prefix}, at ${tab.url()}`);

// One walk through every page, as `email`, in the language `lang` of this pass.
const walk = async (email) => {
  const W = words[lang];
  await tab.goto(`${rpBase}/`);
  assert.equal(await text('#who'), 'Not signed in');
  await shot('app-signed-out');

  // First visit: wrong password, then the right one, then the authenticator is linked.
  await tab.click('#signin');
  await tab.waitForSelector('input[name="password"]');
  at(`${issuer}/login`);
  assert.match(await tab.title(), W.signIn);
  // The app's brand: its logo and its accent colour (a generated stylesheet, no inline style).
  const logo = tab.locator('.brand img.logo');
  assert.equal(await logo.count(), 1, "the app's logo");
  assert.match(await logo.getAttribute('src'), /^\/branding\/[0-9a-f]{24}\.svg$/);
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth > 0), 'the logo loads under the CSP');
  assert.equal(await tab.locator('button[type="submit"]').evaluate((b) => getComputedStyle(b).backgroundColor),
    'rgb(122, 46, 142)', "the button takes the app's accent colour");
  await shot('sign-in');
  // From here to the app, the keyboard only.
  await expectFocus('email', 'sign-in page');
  await tab.keyboard.type(email.toUpperCase());
  await tabTo('password', 'email to password');
  await tabTo('email', 'back to the email', 'Shift+Tab');
  await tabTo('password', 'email to password again');
  await tab.keyboard.type('not the password');
  await tab.keyboard.press('Enter');
  await tab.waitForSelector('#form-error');
  assert.equal(await text('#form-error'), W.wrong);
  await expectFocus('form-error', 'after the refusal');
  for (const field of ['email', 'password']) {
    const el = tab.locator(`input[name="${field}"]`);
    assert.equal(await el.getAttribute('aria-invalid'), 'true', `${field} marked invalid`);
    assert.equal(await el.getAttribute('aria-describedby'), 'form-error', `${field} described by the error`);
  }
  await shot('sign-in-error');
  await tabTo('email', 'error to email');
  await tab.keyboard.press('Control+A');
  await tab.keyboard.type(email);
  await tabTo('password', 'email to password');
  await tab.keyboard.type(password);
  await tab.keyboard.press('Enter');
  await tab.waitForSelector('#activation-code');
  assert.equal(await tab.locator('figure.qr[role="img"][aria-describedby="activation-code"]').count(), 1,
    'the QR code has a text alternative pointing to the activation code');
  assert.match(await tab.locator('figure.qr').getAttribute('aria-label'), W.qr);
  assert.equal(await tab.locator('svg').count(), 1, 'one QR code');
  const activation = await text('#activation-code');
  assert.match(activation, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
  await shot('mfa-enroll');
  const code = await nextCode(activation);
  await expectFocus('code', 'enrollment page');
  const codeField = tab.locator('input[name="code"]');
  assert.equal(await codeField.getAttribute('inputmode'), 'numeric');
  assert.equal(await codeField.getAttribute('autocomplete'), 'one-time-code');
  await tab.keyboard.type(`${code.slice(0, 3)} ${code.slice(3)}`);
  await tab.keyboard.press('Enter');
  await tab.waitForURL(`${rpBase}/`);
  assert.equal(await text('#who'), `Signed in as ${email}`);
  assert.match(await text('#amr'), /otp/);
  await shot('app-signed-in');

  // Another device signs in to the app as the same user.
  const device = await browser.newContext({ viewport: { width: 900, height: 760 }, locale: W.locale, userAgent: otherDevice });
  const other = await device.newPage();
  await other.goto(`${rpBase}/login`);
  await other.waitForSelector('input[name="password"]');
  await other.fill('input[name="email"]', email);
  await other.fill('input[name="password"]', password);
  await other.click('button[type="submit"]');
  await other.waitForSelector('input[name="code"]');
  await other.fill('input[name="code"]', await nextCode(activation));
  await other.click('button[type="submit"]');
  await other.waitForURL(`${rpBase}/`);
  assert.equal((await other.locator('#who').innerText()).trim(), `Signed in as ${email}`);

  // The provider's own page: this browser and the other device, each with the app; the other
  // one signed out from here with the keyboard only, and its app told by back-channel logout.
  await tab.goto(`${issuer}/`);
  at(`${issuer}/account`);
  assert.equal(await text('h1'), W.account);
  const listed = tab.locator('li.session');
  assert.equal(await listed.count(), 2, 'this browser and the other device');
  assert.equal(await tab.locator('li.session.current .tag').count(), 1, 'this browser marked');
  const theOther = tab.locator('li.session:not(.current)');
  assert.equal((await theOther.locator('h3').innerText()).trim(), W.other);
  assert.equal((await theOther.locator('dd.apps').innerText()).trim(), 'Demo App');
  const otherSid = await theOther.getAttribute('data-sid');
  await shot('account');
  for (let i = 0; ; i += 1) {
    assert.ok(i < 30, "Tab never reached the other session's sign-out button");
    await tab.keyboard.press('Tab');
    const f = await tab.evaluate(() => {
      const el = document.activeElement;
      const st = getComputedStyle(el);
      return { other: el.tagName === 'BUTTON' && !!el.closest('li.session:not(.current)'),
        visible: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0 };
    });
    assert.ok(f.visible, `every focused element shows its focus (${i})`);
    if (f.other) break;
  }
  await tab.keyboard.press('Enter');
  await tab.waitForSelector('#notice');
  assert.equal(await text('#notice'), W.ended);
  assert.equal(await tab.locator('li.session').count(), 1);
  await shot('account-session-ended');
  for (let i = 0; i < 100 && !logoutTokens.some((c) => c.sid === otherSid); i += 1) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(logoutTokens.some((c) => c.sid === otherSid), "the other device's app received its logout token");
  await other.goto(`${rpBase}/`);
  assert.equal((await other.locator('#who').innerText()).trim(), 'Not signed in', 'the app ended that session');
  await other.goto(`${issuer}/account`);
  assert.ok(other.url().startsWith(`${issuer}/login`), 'the other device is signed out at the provider');
  await device.close();

  // The change-password page.
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
  await tab.fill('input[name="code"]', '000000');
  await tab.click('button[type="submit"]');
  await tab.waitForSelector('#form-error');
  await expectFocus('form-error', 'after a wrong code');
  assert.equal(await tab.locator('input[name="code"]').getAttribute('aria-invalid'), 'true');
  await shot('mfa-code-refused');
  await tab.fill('input[name="code"]', await nextCode(activation));
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
  assert.equal(await text('h1'), W.sent);
  await shot('forgot-password-sent');
  const resetLink = await linkFromOutbox('/reset');
  await tab.goto(resetLink);
  await tab.waitForSelector('input[name="new_password"]');
  await shot('reset-password');
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
  await tab.goto(`${issuer}/no-such-page`);
  await shot('not-found');
  // Locked out: five wrong passwords for one address (an unknown one, so ann is not locked).
  await tab.goto(`${rpBase}/login`);
  await tab.waitForSelector('input[name="password"]');
  for (let i = 0; i < 6; i += 1) {
    await tab.fill('input[name="email"]', 'nobody@example.com');
    await tab.fill('input[name="password"]', `wrong password ${i}`);
    await tab.click('button[type="submit"]');
    await tab.waitForSelector('#form-error');
  }
  assert.match(await text('#form-error'), W.tooMany);
  await shot('locked-out');
};

try {
  for (const [l, user] of [['en', email], ['es', env('EMAIL_ES')]]) {
    lang = l;
    suffix = l === 'en' ? '' : `-${l}`;
    appLocale = l === 'en' ? null : l;
    lastStep = 0;
    context = await browser.newContext({ viewport: { width: 900, height: 760 }, bypassCSP: true, locale: words[l].locale });
    tab = await context.newPage();
    await walk(user);
    await context.close();
  }

  const pages = ['sign-in', 'sign-in-error', 'mfa-enroll', 'account', 'account-session-ended', 'change-password', 'mfa-code',
    'mfa-code-refused', 'sign-out-confirm', 'signed-out', 'forgot-password', 'forgot-password-sent', 'reset-password',
    'complete-registration', 'complete-registration-refused', 'link-invalid', 'authorize-error', 'not-found', 'locked-out'];
  const expected = [...pages, ...pages.map((p) => `${p}-es`)];
  assert.deepEqual([...audited].sort(), [...expected].sort(), 'axe-core ran on every page');

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
