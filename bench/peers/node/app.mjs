// Benchmark peer: a minimal login web app on openid-client 6 and node:http.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, PORT. Redirect URI: http://127.0.0.1:$PORT/callback.
// Routes: GET /login, GET /callback, GET /me, GET /health.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
};

const ISSUER = env('ISSUER');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_SECRET = env('CLIENT_SECRET');
const PORT = Number(env('PORT'));
const BASE_URL = `http://127.0.0.1:${PORT}`;
const REDIRECT_URI = `${BASE_URL}/callback`;
const SCOPE = 'openid profile email';

const LOGIN_TTL_MS = 10 * 60 * 1000;
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
const LOGIN_COOKIE = 'peer_login';
const SESSION_COOKIE = 'peer_session';

// Discovery once at startup. The Configuration caches the provider metadata and the JWKS;
// Node's global fetch keeps connections to the provider alive.
const config = await client.discovery(
  new URL(ISSUER),
  CLIENT_ID,
  CLIENT_SECRET,
  client.ClientSecretBasic(CLIENT_SECRET),
  { execute: [client.allowInsecureRequests] },
);

// Server-side state, keyed by random cookie values.
const pendingLogins = new Map(); // id -> { state, nonce, codeVerifier, expiresAt }
const sessions = new Map(); // id -> { sub, email, accessToken, accessTokenExpiresAt, expiresAt }

const sweeper = setInterval(() => {
  const now = Date.now();
  for (const [id, login] of pendingLogins) if (login.expiresAt <= now) pendingLogins.delete(id);
  for (const [id, session] of sessions) if (session.expiresAt <= now) sessions.delete(id);
}, 60 * 1000);
sweeper.unref();

const randomId = () => randomBytes(32).toString('base64url');

function readCookie(req, name) {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const cookie = (name, value, maxAgeSeconds) =>
  `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}`;

function send(res, status, contentType, body, headers = {}) {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

const text = (res, status, body, headers) => send(res, status, 'text/plain; charset=utf-8', body, headers);

function redirect(res, location, setCookie) {
  res.writeHead(302, { location, 'set-cookie': setCookie, 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}

async function login(req, res) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const id = randomId();
  pendingLogins.set(id, { state, nonce, codeVerifier, expiresAt: Date.now() + LOGIN_TTL_MS });
  redirect(res, authorizationUrl.href, [cookie(LOGIN_COOKIE, id, LOGIN_TTL_MS / 1000)]);
}

async function callback(req, res, url) {
  const id = readCookie(req, LOGIN_COOKIE);
  const pending = id && pendingLogins.get(id);
  if (!pending) return text(res, 400, 'no login in progress\n');
  // One use only, whatever the outcome.
  pendingLogins.delete(id);
  if (pending.expiresAt <= Date.now()) return text(res, 400, 'login expired\n');

  let tokens;
  let userinfo;
  try {
    // Checks state, iss, the error response; exchanges the code with the PKCE verifier; validates the
    // ID token (signature from the JWKS, iss, aud, exp, iat, nonce).
    tokens = await client.authorizationCodeGrant(config, new URL(`${REDIRECT_URI}${url.search}`), {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  } catch (err) {
    return text(res, 400, `login failed: ${err.code || err.error || err.name}\n`);
  }

  const sid = randomId();
  const now = Date.now();
  sessions.set(sid, {
    sub: userinfo.sub,
    email: userinfo.email,
    accessToken: tokens.access_token,
    accessTokenExpiresAt: typeof tokens.expires_in === 'number' ? now + tokens.expires_in * 1000 : undefined,
    expiresAt: now + SESSION_TTL_MS,
  });
  redirect(res, '/me', [cookie(SESSION_COOKIE, sid, SESSION_TTL_MS / 1000), cookie(LOGIN_COOKIE, '', 0)]);
}

function me(req, res) {
  const sid = readCookie(req, SESSION_COOKIE);
  const session = sid && sessions.get(sid);
  if (!session || session.expiresAt <= Date.now()) return text(res, 401, 'not logged in\n');
  send(res, 200, 'application/json', JSON.stringify({ sub: session.sub, email: session.email }));
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, BASE_URL);
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed\n');
    switch (url.pathname) {
      case '/login':
        return await login(req, res);
      case '/callback':
        return await callback(req, res, url);
      case '/me':
        return me(req, res);
      case '/health':
        return text(res, 200, 'ok\n');
      default:
        return text(res, 404, 'not found\n');
    }
  } catch {
    if (!res.headersSent) text(res, 500, 'internal error\n');
    else res.destroy();
  }
});

server.listen(PORT, '127.0.0.1', () => {
  process.stdout.write(`listening on ${BASE_URL}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
