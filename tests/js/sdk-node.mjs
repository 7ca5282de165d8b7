// End-to-end test: the real Appwrite Web SDK (appwrite 28.0.0) in Node against a running loginkit-server.
//
//   LOGINKIT_ENDPOINT=http://127.0.0.1:43123/v1 LOGINKIT_PROJECT=default node tests/js/sdk-node.mjs
//
// Env: LOGINKIT_ENDPOINT (required), LOGINKIT_PROJECT (default "default"), LOGINKIT_PROVIDER (default "mock"),
// LOGINKIT_DEBUG=1 prints every HTTP exchange (redacted) on stderr.
// Prints one JSON summary line on stdout and exits 0, or prints the failed expectation (and the HTTP trace) on
// stderr and exits 1. Tokens, codes and secrets are never printed; only their lengths.

const ENDPOINT = process.env.LOGINKIT_ENDPOINT;
const PROJECT = process.env.LOGINKIT_PROJECT || 'default';
const PROVIDER = process.env.LOGINKIT_PROVIDER || 'mock';
const DEBUG = !!process.env.LOGINKIT_DEBUG;
const APP = 'http://localhost:3000'; // nothing listens here; the redirect chain stops at this origin
const MAX_HOPS = 12;
const HTTP_TIMEOUT_MS = 20_000;

if (!ENDPOINT) {
  console.error('sdk-node: LOGINKIT_ENDPOINT is required (e.g. http://127.0.0.1:43123/v1)');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------------
// Redaction and tracing

const SECRET_PARAMS = new Set(['secret', 'code', 'state', 'access_token', 'refresh_token', 'id_token',
  'code_challenge', 'code_verifier', 'nonce', 'token']);

/** The URL with the values of secret-bearing query parameters replaced by their length. */
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
  if (DEBUG) console.error('  [http]', line);
}

// Wrap fetch so the SDK's own requests also land in the trace (method, redacted URL, status, a few headers).
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = typeof input === 'string' ? input : input.url;
  const method = (init.method || 'GET').toUpperCase();
  let res;
  try {
    res = await realFetch(input, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS), ...init });
  } catch (e) {
    record(`${method} ${redactUrl(url)} -> network error ${e.message}`);
    throw e;
  }
  const loc = res.headers.get('location');
  const fb = res.headers.get('x-fallback-cookies');
  record(`${method} ${redactUrl(url)} -> ${res.status}` +
    (loc ? ` Location: ${redactUrl(new URL(loc, url))}` : '') +
    (res.headers.get('set-cookie') ? ` Set-Cookie: [${cookieNames(res).join(', ')}]` : '') +
    (fb !== null ? ` X-Fallback-Cookies: <${fb.length} chars>` : ''));
  return res;
};

function cookieNames(res) {
  return res.headers.getSetCookie().map((c) => {
    const [nv, ...attrs] = c.split(';');
    const name = nv.split('=')[0].trim();
    return /max-age=0|expires=thu, 01 jan 1970/i.test(attrs.join(';')) ? `${name}(delete)` : name;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Fake browser window: only localStorage (no location), so the SDK stores X-Fallback-Cookies and replays it,
// while createOAuth2Token still returns the URL instead of navigating.

const storage = new Map();
const sdkWarnings = [];
globalThis.window = {
  localStorage: {
    getItem: (k) => (storage.has(k) ? storage.get(k) : null),
    setItem: (k, v) => storage.set(k, String(v)),
    removeItem: (k) => storage.delete(k),
  },
  console: { ...console, warn: (...a) => sdkWarnings.push(a.join(' ')) },
};

const { Client, Account, AppwriteException } = await import('appwrite');

// ---------------------------------------------------------------------------------------------------------
// Helpers

class Failure extends Error {}
const steps = [];
const errors = {};
const info = {};

function expect(cond, message) {
  if (!cond) throw new Failure(message);
}

async function step(name, fn) {
  try {
    const r = await fn();
    steps.push(name);
    return r;
  } catch (e) {
    if (e instanceof Failure) throw new Failure(`step "${name}": ${e.message}`);
    if (e instanceof AppwriteException) {
      throw new Failure(`step "${name}": AppwriteException code=${e.code} type=${e.type} message=${e.message}`);
    }
    throw new Failure(`step "${name}": ${e && e.stack ? e.stack : e}`);
  }
}

/** Runs fn, which must throw an AppwriteException; returns {code, type}. */
async function expectAppwriteError(fn) {
  let result;
  try {
    result = await fn();
  } catch (e) {
    expect(e instanceof AppwriteException, `expected an AppwriteException, got ${e && e.stack ? e.stack : e}`);
    return { code: e.code, type: e.type, message: e.message };
  }
  throw new Failure(`expected an AppwriteException, but the call resolved (${Object.keys(result || {}).length} fields)`);
}

function futureDate(s, what) {
  const t = Date.parse(s);
  expect(typeof s === 'string' && s !== '' && !Number.isNaN(t), `${what} must parse as a date, got ${JSON.stringify(s)}`);
  expect(t > Date.now(), `${what} must be in the future, got ${s} (now ${new Date().toISOString()})`);
  return t;
}

// Tiny cookie jar keyed by host name (cookies ignore the port): name=value only; Max-Age<=0 or an expiry in the
// past deletes.
const jar = new Map(); // host -> Map(name -> value)
function storeCookies(url, res) {
  const host = new URL(url).hostname;
  for (const line of res.headers.getSetCookie()) {
    const [nv, ...attrs] = line.split(';');
    const eq = nv.indexOf('=');
    if (eq <= 0) continue;
    const name = nv.slice(0, eq).trim();
    const value = nv.slice(eq + 1).trim();
    let expired = false;
    for (const a of attrs) {
      const [k, v = ''] = a.split('=');
      const key = k.trim().toLowerCase();
      if (key === 'max-age' && Number(v.trim()) <= 0) expired = true;
      if (key === 'expires' && Date.parse(v.trim()) <= Date.now()) expired = true;
    }
    if (!jar.has(host)) jar.set(host, new Map());
    if (expired) jar.get(host).delete(name);
    else jar.get(host).set(name, value);
  }
}
function cookieHeader(url) {
  const cookies = jar.get(new URL(url).hostname);
  if (!cookies || cookies.size === 0) return undefined;
  return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

async function httpRequest(method, url, body) {
  const headers = {};
  const cookie = cookieHeader(url);
  if (cookie) headers.cookie = cookie;
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await globalThis.fetch(url, { method, headers, body, redirect: 'manual' });
  storeCookies(url, res);
  return res;
}

const unescapeHtml = (s) => s.replace(/&(amp|quot|lt|gt|#39|#x27);/g, (_, e) =>
  ({ amp: '&', quot: '"', lt: '<', gt: '>', '#39': "'", '#x27': "'" })[e]);

function parseAttrs(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** The mock IdP's login form: {method, action, hidden: [[name, value]], users: [values], checkedUser, actions}. */
function parseLoginForm(html, pageUrl) {
  const form = html.match(/<form\b([^>]*)>/i);
  expect(form, `no <form> in the login page at ${redactUrl(pageUrl)}`);
  const fa = parseAttrs(form[1]);
  const hidden = [];
  const users = [];
  let checkedUser = null;
  for (const m of html.matchAll(/<input\b([^>]*)>/gi)) {
    const a = parseAttrs(m[1]);
    if ((a.type || '').toLowerCase() === 'hidden') hidden.push([a.name, a.value ?? '']);
    if ((a.type || '').toLowerCase() === 'radio' && a.name === 'user') {
      users.push(a.value);
      if ('checked' in a) checkedUser = a.value;
    }
  }
  const actions = [...html.matchAll(/<button\b([^>]*)>/gi)].map((m) => parseAttrs(m[1]))
    .filter((a) => a.name === 'action').map((a) => a.value);
  return {
    method: (fa.method || 'get').toLowerCase(),
    action: new URL(fa.action ?? '', pageUrl).toString(),
    rawAction: fa.action,
    hidden, users, checkedUser, actions,
  };
}

/**
 * Follows redirects by hand from startUrl (GET), submits the mock IdP's login form (user 1, approve), and keeps
 * following until a Location points at the app origin. Returns that final URL.
 */
async function driveLogin(startUrl) {
  let url = startUrl;
  let res = await httpRequest('GET', url);
  let formsSubmitted = 0;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      const loc = res.headers.get('location');
      expect(loc, `${res.status} without Location from ${redactUrl(url)}`);
      const next = new URL(loc, url);
      if (next.origin === APP) return next;
      url = next.toString();
      res = await httpRequest('GET', url);
      continue;
    }
    const ct = res.headers.get('content-type') || '';
    const text = await res.text();
    expect(res.status === 200 && ct.includes('text/html'),
      `unexpected ${res.status} (${ct}) from ${redactUrl(url)}: ${text.slice(0, 300).replace(/value="[^"]*"/g, 'value="…"')}`);
    expect(formsSubmitted === 0, `a second HTML page after submitting the login form at ${redactUrl(url)}`);
    expect(new URL(url).pathname.endsWith('/mock/oauth2/authorize'),
      `the login page should be at <origin>/mock/oauth2/authorize, was ${redactUrl(url)}`);
    const form = parseLoginForm(text, url);
    info.loginForm = {
      method: form.method, action: form.rawAction, hiddenFields: form.hidden.map(([n]) => n),
      users: form.users, checkedUser: form.checkedUser, actions: form.actions,
    };
    expect(form.method === 'post', `login form method should be post, is ${form.method}`);
    expect(form.users.includes('1') && form.users.includes('2'), `login form should offer users 1 and 2, offers ${form.users}`);
    expect(form.checkedUser === '1', `user 1 should be checked, checked is ${form.checkedUser}`);
    expect(form.actions.includes('approve') && form.actions.includes('deny'), `login form buttons: ${form.actions}`);
    const body = new URLSearchParams([...form.hidden, ['user', '1'], ['action', 'approve']]).toString();
    url = form.action;
    res = await httpRequest('POST', url, body);
    formsSubmitted++;
    expect(res.status === 302, `POST ${redactUrl(url)} should answer 302, answered ${res.status}`);
  }
  throw new Failure(`more than ${MAX_HOPS} hops without reaching ${APP}`);
}

// ---------------------------------------------------------------------------------------------------------
// The test

async function main() {
  const client = new Client().setEndpoint(ENDPOINT).setProject(PROJECT);
  const account = new Account(client);
  const apiOrigin = new URL(ENDPOINT).origin;

  const startUrl = await step('createOAuth2Token', () => {
    const u = account.createOAuth2Token({
      provider: PROVIDER, success: `${APP}/ok`, failure: `${APP}/fail`, scopes: ['extra.scope'],
    });
    expect(typeof u === 'string', `createOAuth2Token should return a string in Node, returned ${typeof u}`);
    expect(u.startsWith(`${ENDPOINT}/account/tokens/oauth2/${PROVIDER}?`), `unexpected start URL ${redactUrl(u)}`);
    return u;
  });

  const landing = await step('oauth2 redirects + mock login', () => driveLogin(startUrl));
  const { userId, secret } = await step('success redirect', () => {
    expect(landing.pathname === '/ok', `expected to land on ${APP}/ok, landed on ${redactUrl(landing)}` +
      ` (error=${landing.searchParams.get('error')})`);
    const userId = landing.searchParams.get('userId');
    const secret = landing.searchParams.get('secret');
    expect(userId, 'success URL has no userId');
    expect(secret, 'success URL has no secret');
    info.secretLength = secret.length;
    return { userId, secret };
  });
  await step('binding cookie gone after the callback', () => {
    const cookiesAtApi = [...(jar.get(new URL(apiOrigin).hostname)?.keys() ?? [])];
    info.cookiesLeftInJar = cookiesAtApi; // names only
    const binding = cookiesAtApi.filter((name) => name.includes('loginkit_state_'));
    expect(binding.length === 0, `the callback left the state-binding cookie(s) ${binding.join(', ')} in the jar`);
  });

  const created = await step('createSession', async () => {
    const s = await account.createSession({ userId, secret });
    expect(s && typeof s.$id === 'string' && s.$id, 'createSession returned no $id');
    expect(s.userId === userId, `createSession userId ${s.userId} != ${userId}`);
    const fb = window.localStorage.getItem('cookieFallback');
    expect(fb, 'no X-Fallback-Cookies on createSession (localStorage.cookieFallback not set)');
    let keys;
    try { keys = Object.keys(JSON.parse(fb)); } catch { throw new Failure('X-Fallback-Cookies is not JSON'); }
    info.fallbackCookieNames = keys;
    return s;
  });

  errors.reuseSecret = await step('createSession again (one-time secret)', async () => {
    const e = await expectAppwriteError(() => account.createSession({ userId, secret }));
    expect(e.code === 401, `reusing the secret should give 401, gave ${e.code} ${e.type}`);
    return { code: e.code, type: e.type };
  });

  const current = await step('getSession(current)', async () => {
    const s = await account.getSession({ sessionId: 'current' });
    expect(s.$id === created.$id, `current session ${s.$id} != created ${created.$id}`);
    expect(s.provider === PROVIDER, `provider should be ${PROVIDER}, is ${s.provider}`);
    expect(typeof s.providerUid === 'string' && s.providerUid !== '', 'providerUid is empty');
    expect(typeof s.providerAccessToken === 'string' && s.providerAccessToken !== '', 'providerAccessToken is empty');
    futureDate(s.providerAccessTokenExpiry, 'providerAccessTokenExpiry');
    expect(s.current === true, `current should be true, is ${s.current}`);
    info.accessTokenLength = s.providerAccessToken.length;
    info.refreshTokenLength = (s.providerRefreshToken || '').length;
    info.sessionSecretLength = (s.secret || '').length; // Appwrite sends "" to clients
    return s;
  });

  const user = await step('get', async () => {
    const u = await account.get();
    expect(u.$id === userId, `account.get() $id ${u.$id} != ${userId}`);
    expect(typeof u.email === 'string' && u.email.includes('@'), `account.get() email ${JSON.stringify(u.email)}`);
    return u;
  });

  await step('updateSession(current)', async () => {
    const s = await account.updateSession({ sessionId: 'current' });
    expect(s.$id === current.$id, `updated session ${s.$id} != ${current.$id}`);
    expect(typeof s.providerAccessToken === 'string' && s.providerAccessToken !== '', 'refreshed providerAccessToken is empty');
    expect(s.providerAccessToken !== current.providerAccessToken, 'providerAccessToken did not change on refresh');
    const before = Date.parse(current.providerAccessTokenExpiry);
    const after = futureDate(s.providerAccessTokenExpiry, 'refreshed providerAccessTokenExpiry');
    expect(after >= before, `refreshed expiry ${s.providerAccessTokenExpiry} is before ${current.providerAccessTokenExpiry}`);
    // And getSession now shows the new token.
    const again = await account.getSession({ sessionId: 'current' });
    expect(again.providerAccessToken === s.providerAccessToken, 'getSession after refresh shows the old token');
  });

  const identities = await step('listIdentities', async () => {
    const l = await account.listIdentities();
    expect(Number(l.total) >= 1, `listIdentities total ${l.total}`);
    expect(Array.isArray(l.identities), 'listIdentities has no identities array');
    const mine = l.identities.find((i) => i.provider === PROVIDER);
    expect(mine, `no identity for provider ${PROVIDER}`);
    expect(mine.userId === userId, `identity userId ${mine.userId} != ${userId}`);
    expect(mine.providerUid === current.providerUid, `identity providerUid differs from the session's`);
    info.identityEmail = typeof mine.providerEmail === 'string' && mine.providerEmail === user.email;
    return Number(l.total);
  });

  await step('listSessions', async () => {
    const l = await account.listSessions();
    expect(Number(l.total) >= 1, `listSessions total ${l.total}`);
    expect(Array.isArray(l.sessions) && l.sessions.some((s) => s.$id === created.$id),
      'listSessions does not contain the session');
    info.sessions = Number(l.total);
  });

  await step('deleteSession(current)', async () => {
    const before = window.localStorage.getItem('cookieFallback');
    expect(before && Object.keys(JSON.parse(before)).includes(`a_session_${PROJECT}`),
      'before deleteSession the stored fallback should hold the session');
    await account.deleteSession({ sessionId: 'current' });
    const fb = window.localStorage.getItem('cookieFallback');
    info.fallbackAfterDelete = fb === null ? null : `<${fb.length} chars>`;
    let left = {};
    try { left = fb === null ? {} : JSON.parse(fb); } catch { throw new Failure('the stored fallback is not JSON after delete'); }
    expect(!(`a_session_${PROJECT}` in left), 'the stored fallback still holds the deleted session after deleteSession');
  });

  errors.afterDelete = await step('getSession(current) after delete', async () => {
    const e = await expectAppwriteError(() => account.getSession({ sessionId: 'current' }));
    expect(e.code === 401, `getSession after delete should give 401, gave ${e.code} ${e.type}`);
    return { code: e.code, type: e.type };
  });

  // Web SDK 28: sign in with an ID token the app got natively (the test signs one for `google`).
  if (process.env.LOGINKIT_ID_TOKEN) {
    const idToken = process.env.LOGINKIT_ID_TOKEN;
    await step('createIdTokenSession', async () => {
      const s = await account.createIdTokenSession({ provider: 'google', idToken, nonce: process.env.LOGINKIT_ID_TOKEN_NONCE });
      expect(s.provider === 'google', `createIdTokenSession provider ${s.provider}`);
      info.idTokenSession = s.providerUid;
    });
    await step('listIdentities(providerIdToken)', async () => {
      const l = await account.listIdentities();
      const google = l.identities.find((i) => i.provider === 'google');
      expect(google, 'no google identity after createIdTokenSession');
      expect(google.providerIdToken === idToken, 'providerIdToken is not the ID token signed in with');
    });
    errors.idToken = await step('createIdTokenSession(forged)', async () => {
      const e = await expectAppwriteError(() => account.createIdTokenSession({ provider: 'google', idToken: `${idToken}x` }));
      expect(e.code === 401 && e.type === 'user_oauth2_token_invalid', `a forged ID token gave ${e.code} ${e.type}`);
      return { code: e.code, type: e.type };
    });
  }

  return {
    ok: true,
    steps,
    session: {
      provider: current.provider,
      providerUid: current.providerUid,
      providerAccessTokenExpiry: current.providerAccessTokenExpiry,
    },
    identities,
    errors,
    info,
  };
}

try {
  const summary = await main();
  if (sdkWarnings.length) summary.info.sdkWarnings = sdkWarnings.map((w) => w.slice(0, 80));
  console.log(JSON.stringify(summary));
  process.exit(0);
} catch (e) {
  console.error(`sdk-node: FAILED: ${e instanceof Failure ? e.message : e && e.stack ? e.stack : e}`);
  console.error(`sdk-node: passed steps: ${steps.join(', ') || '(none)'}`);
  console.error('sdk-node: HTTP trace (secrets redacted):');
  for (const line of trace) console.error(`  ${line}`);
  console.log(JSON.stringify({ ok: false, steps, errors, info, error: e instanceof Failure ? e.message : String(e) }));
  process.exit(1);
}
