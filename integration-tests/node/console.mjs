// The web console in a real browser (Debian's chromium driven by playwright-core), against the
// release binary: a `support` user signs in with TOTP and handles each support ticket of the
// product documents (MFA on for an account, disconnect a lost app with a reason, the user
// relinks at the next sign-in, MFA off for the account, end sessions), each checked on the
// audit page with its actor, address and reason; an `account-admin` sees and changes only their
// own account and cannot turn MFA off; a user without a role gets 403. Every console page is
// checked by axe-core (WCAG 2.1 A and AA), for its `lang` and its one h1, and at 320 CSS px
// (no sideways scrolling), in English and in Spanish, with a screenshot at each width.
// Driven by the Rust test `console::browser::*`, which passes:
//   ISSUER, PASSWORD, SCREENSHOT_DIR, SUPPORT, SUPPORT_ES, ADMIN, USER (ann, in acme), PLAIN,
//   PLAIN_ES (users without a role), OTHER_ACCOUNT (an account the admin must not see)
// Exit code 0 and a last line "OK" when every check held.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const issuer = env('ISSUER');
const password = env('PASSWORD');
const shots = env('SCREENSHOT_DIR');
fs.mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const axeSource = fs.readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const audited = [];
let n = 0;
let lang = 'en';
let suffix = '';

const totp = (secret, offsetSteps = 0) => {
  const at = Math.floor(Date.now() / 1000) + offsetSteps * 30;
  return execFileSync('oathtool', ['--totp', '-b', secret.replace(/\s+/g, ''), '-N', `@${at}`]).toString().trim();
};

// A console page: axe-core at WCAG 2.1 A/AA, its language, one h1, 320 px without sideways
// scrolling, and a screenshot at both widths.
const shot = async (tab, name) => {
  n += 1;
  const file = (w) => path.join(shots, `${String(n).padStart(2, '0')}-${name}${suffix}${w}.png`);
  await tab.screenshot({ path: file(''), fullPage: true });
  await tab.addScriptTag({ content: axeSource });
  const result = await tab.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((x) => x.target.join(' ')).join(', ')}`);
  assert.deepEqual(found, [], `${name}${suffix}: axe-core found WCAG 2.1 A/AA violations`);
  assert.equal(await tab.evaluate(() => document.documentElement.lang), lang, `${name}${suffix}: lang attribute`);
  assert.equal(await tab.locator('h1').count(), 1, `${name}${suffix}: one h1`);
  await tab.setViewportSize({ width: 320, height: 640 });
  const overflow = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name}${suffix}: ${overflow} px wider than a 320 px screen`);
  await tab.screenshot({ path: file('-320px'), fullPage: true });
  await tab.setViewportSize({ width: 1100, height: 800 });
  audited.push(`${name}${suffix}`);
};

const words = {
  en: { locale: 'en-US', app: /console/, noAccess: 'No access', notFound: 'Not found', refused: 'Not allowed',
    signedOut: 'You are signed out', reasonMissing: 'Enter a reason' },
  es: { locale: 'es-ES', app: /Consola/, noAccess: 'Sin acceso', notFound: 'No encontrado', refused: 'No permitido',
    signedOut: 'Ha cerrado la sesión', reasonMissing: 'Escriba un motivo' },
};

const newTab = async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, bypassCSP: true, locale: words[lang].locale });
  return { context, tab: await context.newPage() };
};
const text = async (tab, sel) => (await tab.locator(sel).first().innerText()).trim();
const atConsole = (tab, p = '/console') => tab.waitForURL((u) => u.pathname === p, { timeout: 15000 });

// Signs in to the console from its sign-in page. `secret`: an app already linked (type a code
// of the next step, the current one may be used already); none: expect the QR code and link one.
// Returns the activation code of the app linked now, if any.
const signIn = async (tab, email, secret) => {
  await tab.goto(`${issuer}/console`);
  await tab.waitForSelector('input[name="password"]');
  assert.match(await text(tab, 'p.sub'), words[lang].app, 'the sign-in page names the console');
  await tab.fill('input[name="email"]', email);
  await tab.fill('input[name="password"]', password);
  await tab.click('main button[type="submit"]');
  await tab.waitForSelector('input[name="code"]');
  let linked = null;
  if (secret) {
    assert.equal(await tab.locator('svg').count(), 0, 'no QR code once linked');
    await tab.fill('input[name="code"]', totp(secret, 1));
  } else {
    linked = await text(tab, '#activation-code');
    await tab.fill('input[name="code"]', totp(linked));
  }
  await tab.click('main button[type="submit"]');
  await tab.waitForURL((u) => u.pathname.startsWith('/console') && !u.pathname.startsWith('/console/callback'), { timeout: 15000 });
  return linked;
};

// Signs a user without a role in (their account has MFA off): the status of the console page.
const signInWithoutRole = async (tab, email) => {
  await tab.goto(`${issuer}/console`);
  await tab.waitForSelector('input[name="password"]');
  await tab.fill('input[name="email"]', email);
  await tab.fill('input[name="password"]', password);
  const [res] = await Promise.all([
    tab.waitForResponse((r) => new URL(r.url()).pathname === '/console', { timeout: 15000 }),
    tab.click('main button[type="submit"]'),
  ]);
  await tab.waitForSelector('h1');
  return res.status();
};

// Fills an action's confirmation form with `reason` and sends it.
const confirm = async (tab, reason) => {
  await tab.fill('input[name="reason"]', reason);
  await tab.click('main button[type="submit"]');
  await tab.waitForLoadState();
};
const notice = async (tab) => text(tab, 'p.notice');
const auditRow = async (tab, action) => {
  const row = tab.locator('table.list tbody tr', { has: tab.locator(`code:text-is("${action}")`) }).first();
  return (await row.innerText()).replace(/\s+/g, ' ');
};

// ---- English: the support tickets ----
const tickets = async () => {
  const support = env('SUPPORT');
  const { context, tab } = await newTab();
  await signIn(tab, support);
  await atConsole(tab);
  await shot(tab, 'console-home');
  await tab.fill('#q', 'ann');
  await tab.click('form.search button');
  await tab.waitForURL(/\/console\/search/);
  assert.ok((await tab.content()).includes(env('USER')), 'ann is found');
  await shot(tab, 'console-search');
  await tab.click('a[href="/console/accounts/acme"]');
  await atConsole(tab, '/console/accounts/acme');
  await shot(tab, 'console-account');

  // Ticket: MFA on for the account (a reason is required: the empty form is refused first).
  await tab.click('a[href="/console/accounts/acme/mfa-on"]');
  await tab.waitForSelector('input[name="reason"]');
  await shot(tab, 'console-confirm');
  await tab.click('main button[type="submit"]');
  await tab.waitForSelector('#form-error');
  assert.match(await text(tab, '#form-error'), new RegExp(words[lang].reasonMissing));
  await shot(tab, 'console-confirm-error');
  await confirm(tab, 'T-2000 customer asks for MFA');
  await atConsole(tab, '/console/accounts/acme');
  assert.match(await notice(tab), /MFA is now required/);

  // Ann links her app at her next sign-in, then sees that the console is not for her (403).
  const ann = env('USER');
  const annTab = await newTab();
  const annSecret = await signIn(annTab.tab, ann);
  assert.ok(annSecret, 'ann links an app (MFA is on)');
  assert.equal(await text(annTab.tab, 'h1'), words[lang].noAccess);
  await shot(annTab.tab, 'console-no-access');

  // Ticket: a lost phone. Disconnect with a reason; she relinks at her next sign-in.
  await tab.goto(`${issuer}/console/search?q=ann%40`);
  await tab.click(`a:text-is("${ann}")`);
  await tab.waitForURL(/\/console\/users\/[0-9a-f]+$/);
  const annPage = tab.url();
  assert.match(await tab.content(), /App linked since|Linked/);
  await shot(tab, 'console-user');
  await tab.click('a[href$="/disconnect-app"]');
  await tab.waitForSelector('input[name="reason"]');
  assert.match(await text(tab, 'p.consequence'), /all their sessions end and they link a new app at their next sign-in/);
  await confirm(tab, 'T-2001 lost phone');
  await tab.waitForURL(annPage);
  assert.match(await notice(tab), /is disconnected/);
  const relinked = await signIn(annTab.tab, ann);
  assert.ok(relinked && relinked !== annSecret, 'the next sign-in shows a new QR code');

  // Ticket: MFA off for the account (support only).
  await tab.goto(`${issuer}/console/accounts/acme`);
  await tab.click('a[href="/console/accounts/acme/mfa-off"]');
  await confirm(tab, 'T-2002 customer turns MFA off');
  assert.match(await notice(tab), /MFA is now off/);

  // Ticket: end every session of the user.
  await tab.goto(annPage);
  await tab.click('a[href$="/end-sessions"]');
  await confirm(tab, 'T-2003 shared computer');
  assert.match(await notice(tab), /Every session of/);

  // Each ticket's audit event: the console user, their address, the reason.
  await tab.goto(`${issuer}/console/audit?account=acme`);
  await shot(tab, 'console-audit');
  for (const [action, reason] of [['mfa.disconnected', 'T-2001 lost phone'], ['session.revoked_all', 'T-2003 shared computer']]) {
    const row = await auditRow(tab, action);
    assert.ok(row.includes(reason) && row.includes('console:') && row.includes('127.0.0.1'), `${action}: ${row}`);
  }
  const content = await tab.content();
  for (const reason of ['T-2000 customer asks for MFA', 'T-2002 customer turns MFA off']) {
    assert.ok(content.includes(reason), `the MFA change "${reason}" is in the audit log`);
  }
  const csv = await context.request.get(`${issuer}/console/audit.csv?account=acme`);
  assert.equal(csv.status(), 200);
  const lines = (await csv.text()).split('\r\n');
  assert.equal(lines[0], 'time,event,actor,account_id,user_id,address,reason,detail,on_behalf_of');
  assert.ok(lines.some((l) => l.includes('mfa.disconnected') && l.includes('T-2001 lost phone')), 'the CSV has the disconnect');

  await errorsAndSignOut(tab);
  await annTab.context.close();
  await context.close();
};

// The pages that refuse, and signing out.
const errorsAndSignOut = async (tab) => {
  await tab.goto(`${issuer}/console/users/no-such-user`);
  assert.equal(await text(tab, 'h1'), words[lang].notFound);
  await shot(tab, 'console-not-found');
  // Nobody acts on themselves: the own user's disable page is refused.
  await tab.goto(`${issuer}/console/search?q=${encodeURIComponent(lang === 'en' ? env('SUPPORT') : env('SUPPORT_ES'))}`);
  const own = await tab.locator('table.list a').first().getAttribute('href');
  await tab.goto(`${issuer}${own}/disable`);
  assert.equal(await text(tab, 'h1'), words[lang].refused);
  await shot(tab, 'console-refused');
  await tab.goto(`${issuer}/console`);
  await tab.click('form.signout button');
  await tab.waitForSelector('h1');
  assert.equal(await text(tab, 'h1'), words[lang].signedOut);
  await shot(tab, 'console-signed-out');
};

// ---- English: the account-admin sees and changes only their own account ----
const accountAdmin = async () => {
  const { context, tab } = await newTab();
  await signIn(tab, env('ADMIN'));
  await atConsole(tab);
  const home = await tab.content();
  assert.ok(home.includes('/console/accounts/acme'), 'their own account');
  assert.ok(!home.includes(`/console/accounts/${env('OTHER_ACCOUNT')}`), 'no other account');
  const other = await tab.goto(`${issuer}/console/accounts/${env('OTHER_ACCOUNT')}`);
  assert.equal(other.status(), 404);
  // MFA on is theirs to turn on; never off.
  await tab.goto(`${issuer}/console/accounts/acme`);
  await tab.click('a[href="/console/accounts/acme/mfa-on"]');
  await confirm(tab, 'T-3000 our policy');
  assert.match(await notice(tab), /MFA is now required/);
  assert.equal(await tab.locator('a[href="/console/accounts/acme/mfa-off"]').count(), 0, 'no MFA-off button');
  const off = await tab.goto(`${issuer}/console/accounts/acme/mfa-off`);
  assert.equal(off.status(), 403);
  await context.close();
  // A user without a role: 403, and nothing shown.
  const plain = await newTab();
  const status = await signInWithoutRole(plain.tab, env('PLAIN'));
  assert.equal(status, 403);
  assert.ok(!(await plain.tab.content()).includes('/console/accounts/'), 'no data on the 403 page');
  await plain.context.close();
};

// ---- Spanish: every console page again ----
const spanish = async () => {
  const { context, tab } = await newTab();
  await signIn(tab, env('SUPPORT_ES'));
  await atConsole(tab);
  await shot(tab, 'console-home');
  await tab.goto(`${issuer}/console/search?q=ann`);
  await shot(tab, 'console-search');
  await tab.goto(`${issuer}/console/accounts/acme`);
  await shot(tab, 'console-account');
  await tab.click('a[href$="/invite"]');
  await tab.waitForSelector('input[name="reason"]');
  await shot(tab, 'console-confirm');
  await tab.fill('input[name="email"]', 'nuevo@example.com');
  await tab.click('main button[type="submit"]');
  await tab.waitForSelector('#form-error');
  assert.match(await text(tab, '#form-error'), new RegExp(words[lang].reasonMissing));
  await shot(tab, 'console-confirm-error');
  await tab.goto(`${issuer}/console/search?q=${encodeURIComponent(env('USER'))}`);
  await tab.click(`a:text-is("${env('USER')}")`);
  await tab.waitForURL(/\/console\/users\/[0-9a-f]+$/);
  await shot(tab, 'console-user');
  await tab.goto(`${issuer}/console/audit?account=acme`);
  await shot(tab, 'console-audit');
  const plain = await newTab();
  assert.equal(await signInWithoutRole(plain.tab, env('PLAIN_ES')), 403);
  assert.equal(await text(plain.tab, 'h1'), words[lang].noAccess);
  await shot(plain.tab, 'console-no-access');
  await plain.context.close();
  await errorsAndSignOut(tab);
  await context.close();
};

try {
  await tickets();
  await accountAdmin();
  lang = 'es';
  suffix = '-es';
  await spanish();
  const pages = ['console-home', 'console-search', 'console-account', 'console-confirm', 'console-confirm-error',
    'console-no-access', 'console-user', 'console-audit', 'console-not-found', 'console-refused', 'console-signed-out'];
  const expected = [...pages, ...pages.map((p) => `${p}-es`)];
  assert.deepEqual([...audited].sort(), [...expected].sort(), 'axe-core ran on every console page in both languages');
  console.log(`screenshots in ${shots}`);
  console.log('OK');
} finally {
  await browser.close();
}
