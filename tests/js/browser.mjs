// End-to-end test: the real Appwrite Web SDK (appwrite 28.0.0, IIFE build) in headless Debian Chromium, driven by
// playwright-core 1.65.1, against a running loginkit-server.
//
//   LOGINKIT_ENDPOINT=http://127.0.0.1:43123/v1 LOGINKIT_PROJECT=default node tests/js/browser.mjs
//
// Env: LOGINKIT_ENDPOINT (required; host 127.0.0.1), LOGINKIT_PROJECT (default "default"), LOGINKIT_PROVIDER
// (default "mock"), LOGINKIT_DEBUG=1 prints the browser's traffic (redacted) on stderr as it happens.
//
// This script serves the app page itself (node:http on 127.0.0.1, port 0). Two cases, each in a fresh browser
// profile:
//   same-site:  API http://127.0.0.1:PORT/v1, app http://127.0.0.1:APP  -> createOAuth2Session, then getSession.
//   cross-site: API http://localhost:PORT/v1, app http://127.0.0.1:APP  -> createOAuth2Session (result only
//               recorded), then the token flow createOAuth2Token -> createSession -> getSession, which must work
//               through X-Fallback-Cookies.
// Prints one JSON summary line on stdout; exits 0 on success, 1 (with the reason and a trace on stderr) on failure.
// Tokens, codes and secrets are never printed.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ENDPOINT = process.env.LOGINKIT_ENDPOINT;
const PROJECT = process.env.LOGINKIT_PROJECT || 'default';
const PROVIDER = process.env.LOGINKIT_PROVIDER || 'mock';
const DEBUG = !!process.env.LOGINKIT_DEBUG;
const NAV_TIMEOUT_MS = 20_000;
const CHROMIUM = '/usr/bin/chromium';
const here = path.dirname(fileURLToPath(import.meta.url));
const SDK_JS = path.join(here, 'node_modules', 'appwrite', 'dist', 'iife', 'sdk.js');

if (!ENDPOINT) {
  console.error('browser: LOGINKIT_ENDPOINT is required (e.g. http://127.0.0.1:43123/v1)');
  process.exit(2);
}
const sameSiteEndpoint = ENDPOINT.replace(/\/+$/, '');
const crossSiteEndpoint = (() => {
  const u = new URL(sameSiteEndpoint);
  u.hostname = 'localhost';
  return u.toString().replace(/\/+$/, '');
})();

// ---------------------------------------------------------------------------------------------------------
// Redaction, tracing, expectations

const SECRET_PARAMS = new Set(['secret', 'code', 'state', 'access_token', 'refresh_token', 'id_token',
  'code_challenge', 'code_verifier', 'nonce', 'token']);
function redactUrl(u) {
  try {
    const url = new URL(u);
    for (const [k, v] of [...url.searchParams]) {
      if (SECRET_PARAMS.has(k)) url.searchParams.set(k, `<${v.length} chars>`);
    }
    return url.toString();
  } catch {
    return String(u).replace(/(secret|code|state)=[^&]*/g, '$1=<redacted>');
  }
}
const trace = [];
function record(line) {
  trace.push(line);
  if (DEBUG) console.error('  ', line);
}
class Failure extends Error {}
function expect(cond, message) {
  if (!cond) throw new Failure(message);
}
const steps = [];
async function step(name, fn) {
  record(`-- step ${name}`);
  try {
    const r = await fn();
    steps.push(name);
    return r;
  } catch (e) {
    throw new Failure(`step "${name}": ${e instanceof Failure ? e.message : e && e.stack ? e.stack : e}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The app: one page for every path (/, /ok, /fail); /sdk.js is the SDK's IIFE build (global `Appwrite`).

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>loginkit e2e app</title></head>
<body>
<pre id="out"></pre>
<script src="/sdk.js"></script>
<script>
  // Helpers called by browser.mjs with page.evaluate. A fresh Client per call: all state lives in the browser
  // (cookies, localStorage.cookieFallback), exactly as in an app.
  function account(ep, project) {
    return new Appwrite.Account(new Appwrite.Client().setEndpoint(ep).setProject(project));
  }
  function plain(x) { return JSON.parse(JSON.stringify(x)); }
  window.app = {
    ready: typeof Appwrite !== 'undefined',
    // Navigates away (the SDK sets window.location.href).
    startOAuth2Session(ep, project, provider, success, failure) {
      return String(account(ep, project).createOAuth2Session({ provider, success, failure }));
    },
    startOAuth2Token(ep, project, provider, success, failure) {
      return String(account(ep, project).createOAuth2Token({ provider, success, failure }));
    },
    async call(ep, project, method, params) {
      try {
        const a = account(ep, project);
        const r = params === undefined ? await a[method]() : await a[method](params);
        return { ok: true, value: plain(r) };
      } catch (e) {
        return { ok: false, name: e && e.name, code: e && e.code, type: e && e.type, message: String(e && e.message) };
      }
    },
    // Token flow landing: userId and secret from this page's query string.
    async createSessionFromQuery(ep, project) {
      const q = new URLSearchParams(location.search);
      const userId = q.get('userId'), secret = q.get('secret');
      if (!userId || !secret) return { ok: false, message: 'no userId/secret in the success URL', keys: [...q.keys()] };
      return this.call(ep, project, 'createSession', { userId, secret });
    },
    storage() {
      const fb = localStorage.getItem('cookieFallback');
      let names = null;
      try { names = fb ? Object.keys(JSON.parse(fb)) : null; } catch { names = ['<not JSON>']; }
      return { cookieFallbackSet: !!fb, cookieFallbackNames: names, documentCookieNames: document.cookie.split(';').map((c) => c.split('=')[0].trim()).filter(Boolean) };
    },
  };
</script>
</body></html>
`;

function startApp() {
  const sdk = fs.readFileSync(SDK_JS);
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname === '/sdk.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(sdk);
    } else if (pathname === '/' || pathname === '/ok' || pathname === '/fail') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${server.address().port}` }));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Browser

async function withBrowser(label, fn) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loginkit-pw-'));
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
    page.setDefaultTimeout(NAV_TIMEOUT_MS);
    const tag = `[${label}]`;
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') record(`${tag} console.${m.type()}: ${m.text().slice(0, 300)}`);
    });
    page.on('pageerror', (e) => record(`${tag} pageerror: ${e.message}`));
    page.on('requestfailed', (r) => record(`${tag} FAILED ${r.method()} ${redactUrl(r.url())}: ${r.failure()?.errorText}`));
    page.on('response', async (r) => {
      const req = r.request();
      if (r.url().endsWith('/sdk.js')) return;
      let extra = '';
      try {
        const h = await r.allHeaders();
        const loc = h.location;
        if (loc) extra += ` Location: ${redactUrl(new URL(loc, r.url()))}`;
        const setCookies = (await r.headersArray()).filter((x) => x.name.toLowerCase() === 'set-cookie')
          .map((x) => x.value.split(';').map((p) => p.trim()))
          .map(([nv, ...attrs]) => `${nv.split('=')[0]}(${attrs.filter((a) => !/^expires=/i.test(a)).join(';')})`);
        if (setCookies.length) extra += ` Set-Cookie: ${setCookies.join(', ')}`;
        if (req.resourceType() === 'fetch' || req.resourceType() === 'xhr') {
          extra += ` ACAO=${h['access-control-allow-origin'] ?? '-'} ACAC=${h['access-control-allow-credentials'] ?? '-'}` +
            ` ACEH=${h['access-control-expose-headers'] ?? '-'}` +
            (h['x-fallback-cookies'] !== undefined ? ` X-Fallback-Cookies=<${h['x-fallback-cookies'].length} chars>` : '');
        }
      } catch { /* the page navigated away; headers are gone */ }
      record(`${tag} ${req.resourceType()} ${req.method()} ${redactUrl(r.url())} -> ${r.status()}${extra}`);
    });
    return await fn(ctx, page);
  } finally {
    await ctx.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** page.evaluate for a call that navigates the page away: the execution context may vanish under us. */
async function evaluateNavigating(page, fn, arg) {
  try {
    return await page.evaluate(fn, arg);
  } catch (e) {
    if (/Execution context was destroyed|navigation|Target closed/i.test(String(e.message))) return 'navigated';
    throw e;
  }
}

/**
 * From the app page: starts an OAuth2 flow (kind "session" or "token") with the SDK, approves on the mock
 * IdP's login form, and waits until the browser is back on the app origin. Returns the landing URL (a URL).
 */
let loginFormOrigins = []; // per case: where the mock IdP's login form was served from
async function oauthFlow(page, app, ep, kind, success, failure) {
  await page.goto(`${app}/`);
  expect(await page.evaluate(() => window.app && window.app.ready), 'the app page did not load the SDK');
  const r = await evaluateNavigating(page, ([kind, ep, project, provider, success, failure]) =>
    (kind === 'session'
      ? window.app.startOAuth2Session(ep, project, provider, success, failure)
      : window.app.startOAuth2Token(ep, project, provider, success, failure)),
  [kind, ep, PROJECT, PROVIDER, success, failure]);
  record(`start ${kind} returned ${r}`);
  await page.waitForSelector('button[value=approve]', { timeout: NAV_TIMEOUT_MS }).catch((e) => {
    throw new Failure(`the mock login form did not appear (now at ${redactUrl(page.url())}): ${e.message.split('\n')[0]}`);
  });
  const formUrl = new URL(page.url());
  expect(formUrl.pathname.endsWith('/mock/oauth2/authorize'), `login form at unexpected URL ${redactUrl(formUrl)}`);
  // The mock IdP is part of the server: same port; its host may be the API's or the server's own (127.0.0.1).
  expect(formUrl.port === new URL(ep).port && ['127.0.0.1', 'localhost'].includes(formUrl.hostname),
    `login form origin ${formUrl.origin} is not the server's (API ${new URL(ep).origin})`);
  loginFormOrigins.push(formUrl.origin);
  const appOrigin = new URL(app).origin;
  await Promise.all([
    page.waitForURL((u) => u.origin === appOrigin, { timeout: NAV_TIMEOUT_MS }),
    page.click('button[value=approve]'),
  ]).catch((e) => {
    throw new Failure(`after Approve the browser did not come back to the app (now at ${redactUrl(page.url())}): ${e.message.split('\n')[0]}`);
  });
  const landing = new URL(page.url());
  expect(landing.pathname === '/ok',
    `landed on ${redactUrl(landing)} instead of /ok (error=${landing.searchParams.get('error')})`);
  return landing;
}

async function call(page, ep, method, params) {
  return page.evaluate(([ep, project, method, params]) => window.app.call(ep, project, method, params),
    [ep, PROJECT, method, params]);
}
const describeError = (r) => `code=${r.code} type=${r.type} message=${r.message}`;

/** getSession('current') + get(); returns a summary without secrets, or throws. */
async function checkSession(page, ep) {
  const s = await call(page, ep, 'getSession', { sessionId: 'current' });
  expect(s.ok, `getSession(current) failed: ${describeError(s)}`);
  const v = s.value;
  expect(v.provider === PROVIDER, `session provider ${v.provider} != ${PROVIDER}`);
  expect(typeof v.providerAccessToken === 'string' && v.providerAccessToken !== '', 'session has no providerAccessToken');
  expect(typeof v.providerUid === 'string' && v.providerUid !== '', 'session has no providerUid');
  const u = await call(page, ep, 'get');
  expect(u.ok, `account.get() failed: ${describeError(u)}`);
  expect(u.value.$id === v.userId, `account.get() $id ${u.value.$id} != session userId ${v.userId}`);
  expect(typeof u.value.email === 'string' && u.value.email.includes('@'), `account.get() email ${JSON.stringify(u.value.email)}`);
  return {
    provider: v.provider, providerUid: v.providerUid, providerAccessTokenExpiry: v.providerAccessTokenExpiry,
    accessTokenLength: v.providerAccessToken.length, userEmail: u.value.email,
  };
}

async function cookieSummary(ctx) {
  return (await ctx.cookies()).map((c) => ({
    domain: c.domain, name: c.name, sameSite: c.sameSite, secure: c.secure, httpOnly: c.httpOnly,
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Cases

async function sameSite(app) {
  return withBrowser('same-site', async (ctx, page) => {
    const ep = sameSiteEndpoint;
    loginFormOrigins = [];
    await step('same-site: createOAuth2Session + Approve', () =>
      oauthFlow(page, app, ep, 'session', `${app}/ok`, `${app}/fail`));
    const session = await step('same-site: getSession + get', () => checkSession(page, ep));
    return {
      endpoint: ep, loginFormOrigins, session,
      storage: await page.evaluate(() => window.app.storage()),
      cookies: await cookieSummary(ctx),
    };
  });
}

async function crossSite(app) {
  return withBrowser('cross-site', async (ctx, page) => {
    const ep = crossSiteEndpoint;
    loginFormOrigins = [];
    const result = { endpoint: ep, loginFormOrigins };

    // (a) createOAuth2Session: the session cookie is set on localhost by a top-level navigation; whether the
    // cross-site XHR carries it depends on its SameSite attribute. Recorded, not required.
    await step('cross-site: createOAuth2Session + Approve', () =>
      oauthFlow(page, app, ep, 'session', `${app}/ok`, `${app}/fail`));
    const a = await call(page, ep, 'getSession', { sessionId: 'current' });
    result.oauth2Session = {
      getSessionOk: a.ok,
      ...(a.ok ? { provider: a.value.provider } : { code: a.code, type: a.type }),
      cookies: await cookieSummary(ctx),
    };
    steps.push('cross-site: getSession after createOAuth2Session (recorded only)');

    // Start the token flow from a clean slate so what follows is due to it alone.
    await ctx.clearCookies();
    await page.evaluate(() => localStorage.clear());

    // (b) token flow: createOAuth2Token -> Approve -> /ok?flow=token&userId&secret -> createSession.
    const landing = await step('cross-site: createOAuth2Token + Approve', () =>
      oauthFlow(page, app, ep, 'token', `${app}/ok?flow=token`, `${app}/fail?flow=token`));
    await step('cross-site: success URL has userId and secret', () => {
      expect(landing.searchParams.get('flow') === 'token', 'the success URL lost its own query (flow=token)');
      expect(landing.searchParams.get('userId'), 'no userId in the success URL');
      expect(landing.searchParams.get('secret'), 'no secret in the success URL');
    });
    await step('cross-site: createSession', async () => {
      const r = await page.evaluate(([ep, project]) => window.app.createSessionFromQuery(ep, project), [ep, PROJECT]);
      expect(r.ok, `createSession failed: ${describeError(r)}`);
    });
    result.token = {};
    result.token.storage = await page.evaluate(() => window.app.storage());
    result.token.cookies = await cookieSummary(ctx);
    result.token.sessionCookieForLocalhost = result.token.cookies.some((c) => c.domain === 'localhost' && c.name.startsWith('a_session_'));
    result.token.session = await step('cross-site: getSession + get', () => checkSession(page, ep));
    await step('cross-site: localStorage.cookieFallback set', () => {
      expect(result.token.storage.cookieFallbackSet,
        'localStorage.cookieFallback was not set after createSession (X-Fallback-Cookies missing or not exposed via CORS)');
    });
    return result;
  });
}

// ---------------------------------------------------------------------------------------------------------

const { server, origin: app } = await startApp();
record(`app at ${app}; same-site API ${sameSiteEndpoint}; cross-site API ${crossSiteEndpoint}`);
let exitCode = 0;
const summary = { ok: false, steps };
try {
  summary.app = app;
  summary.sameSite = await sameSite(app);
  summary.crossSite = await crossSite(app);
  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (e) {
  exitCode = 1;
  summary.error = e instanceof Failure ? e.message : String(e && e.stack ? e.stack : e);
  console.error(`browser: FAILED: ${summary.error}`);
  console.error(`browser: passed steps: ${steps.join(', ') || '(none)'}`);
  console.error('browser: trace (secrets redacted):');
  for (const line of trace) console.error(`  ${line}`);
  console.log(JSON.stringify(summary));
} finally {
  server.close();
  server.closeAllConnections?.();
}
process.exit(exitCode);
