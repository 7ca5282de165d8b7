// A certified OpenID provider (panva oidc-provider) on loopback, for loginkit's conformance tests.
//
// Env: OP_PORT (0 = any free port), REDIRECT_URI (the client's one redirect URI),
//      ID_TOKEN_ALG (RS256 | ES256), JWKS_FILE (signing keys; generated when missing; delete the
//      file and restart to rotate keys).
// Prints `listening on http://127.0.0.1:<port>` once ready. Client: `loginkit` / `loginkit-secret`,
// confidential (client_secret_basic), PKCE S256 required. Any login name signs in; claims follow
// from it: sub=<login>, email=<login>@example.test, verified unless the login starts with
// "unverified", name="Test User <login>".
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.env.OP_PORT || 0);
const redirectUri = process.env.REDIRECT_URI;
const alg = process.env.ID_TOKEN_ALG || 'RS256';
const jwksFile = process.env.JWKS_FILE;
if (!redirectUri || !jwksFile) {
  console.error('REDIRECT_URI and JWKS_FILE are required');
  process.exit(2);
}

async function signingKeys() {
  if (fs.existsSync(jwksFile)) return JSON.parse(fs.readFileSync(jwksFile, 'utf8'));
  const stamp = Date.now().toString(36);
  const keys = [];
  for (const a of ['RS256', 'ES256']) {
    const { privateKey } = await jose.generateKeyPair(a, { extractable: true });
    keys.push({ ...(await jose.exportJWK(privateKey)), kid: `${a.toLowerCase()}-${stamp}`, alg: a, use: 'sig' });
  }
  const jwks = { keys };
  fs.writeFileSync(jwksFile, JSON.stringify(jwks));
  return jwks;
}

// Bind first, so the issuer carries the real port.
const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'loginkit',
    client_secret: 'loginkit-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
    scope: 'openid offline_access email profile',
  }],
  jwks: await signingKeys(),
  cookies: { keys: ['loginkit-conformance'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({
      sub,
      email: `${sub}@example.test`,
      email_verified: !sub.startsWith('unverified'),
      name: `Test User ${sub}`,
    }),
  }),
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  ttl: { AccessToken: 3600, AuthorizationCode: 600, IdToken: 3600, RefreshToken: 86400, Interaction: 3600, Session: 86400, Grant: 86400 },
});
server.on('request', provider.callback());
console.log(`listening on ${issuer}`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
