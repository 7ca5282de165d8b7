// End-to-end test: server-side rendering with the real Appwrite server SDK for Node (node-appwrite 27.1.0)
// against a running loginkit-server, the pattern Appwrite's Next.js / SvelteKit / Astro / Nuxt guides teach.
//
//   LOGINKIT_ENDPOINT=http://127.0.0.1:43123/v1 LOGINKIT_PROJECT=default LOGINKIT_API_KEY=<key> \
//   LOGINKIT_PHASE=start node tests/js/ssr-node.mjs
//
// Two phases, with the browser's walk between them (the test drives it):
//   start:  an admin client (setKey) calls account.createOAuth2Token; prints the provider URL the app's
//           server would redirect the browser to.
//   finish: with LOGINKIT_USER_ID and LOGINKIT_SECRET (what the app's success route receives), checks a
//           client without the key cannot redeem the secret, redeems it with the admin client
//           (account.createSession: a Session whose `secret` is filled), then as a session client
//           (setSession) reads the account and the session, reads the user with users.get (admin), deletes
//           the session, and checks the session client is then refused with 401.
// Prints one JSON summary line on stdout and exits 0, or prints the failed expectation on stderr and exits 1.
// Secrets are never printed; only their lengths.

import { Client, Account, Users, AppwriteException } from 'node-appwrite';

const ENDPOINT = process.env.LOGINKIT_ENDPOINT;
const PROJECT = process.env.LOGINKIT_PROJECT || 'default';
const KEY = process.env.LOGINKIT_API_KEY;
const PHASE = process.env.LOGINKIT_PHASE;
const APP = 'http://localhost:3000';

class Failure extends Error {}
const steps = [];

function expect(cond, message) {
  if (!cond) throw new Failure(message);
}

async function step(name, fn) {
  try {
    const value = await fn();
    steps.push(name);
    return value;
  } catch (e) {
    if (e instanceof Failure) throw new Failure(`step "${name}": ${e.message}`);
    if (e instanceof AppwriteException) {
      throw new Failure(`step "${name}": AppwriteException code=${e.code} type=${e.type} message=${e.message}`);
    }
    throw new Failure(`step "${name}": ${e && e.stack ? e.stack : e}`);
  }
}

/** Runs fn, which must throw an AppwriteException; returns {code, type}. */
async function refused(name, fn) {
  try {
    await fn();
  } catch (e) {
    expect(e instanceof AppwriteException, `${name}: expected an AppwriteException, got ${e}`);
    steps.push(`${name}: ${e.code} ${e.type}`);
    return { code: e.code, type: e.type };
  }
  throw new Failure(`${name}: expected a refusal, but the call succeeded`);
}

const admin = () => new Client().setEndpoint(ENDPOINT).setProject(PROJECT).setKey(KEY);

async function start() {
  const url = await step('createOAuth2Token (admin client)', () =>
    new Account(admin()).createOAuth2Token({ provider: 'mock', success: `${APP}/ok`, failure: `${APP}/fail` }));
  expect(typeof url === 'string' && url.includes('/mock/oauth2/authorize'), `createOAuth2Token returned ${url}`);
  return { url };
}

async function finish() {
  const userId = process.env.LOGINKIT_USER_ID;
  const secret = process.env.LOGINKIT_SECRET;
  expect(userId && secret, 'LOGINKIT_USER_ID and LOGINKIT_SECRET are required');
  // Whoever else holds the success URL (the browser, or a victim it was handed to) cannot redeem it.
  const guest = await refused('createSession without the key', () =>
    new Account(new Client().setEndpoint(ENDPOINT).setProject(PROJECT)).createSession({ userId, secret }));
  expect(guest.code === 401 && guest.type === 'user_invalid_token', `a keyless redemption gave ${JSON.stringify(guest)}`);
  const session = await step('createSession (admin client)', () => new Account(admin()).createSession({ userId, secret }));
  expect(session.userId === userId, `the session is ${session.userId}'s`);
  expect(typeof session.secret === 'string' && session.secret.length > 40, 'the Session carries its secret');
  const client = new Client().setEndpoint(ENDPOINT).setProject(PROJECT).setSession(session.secret);
  const account = new Account(client);
  const user = await step('account.get (session client)', () => account.get());
  expect(user.$id === userId && user.email, `account.get() answered ${user.$id}`);
  const current = await step('account.getSession (session client)', () => account.getSession({ sessionId: 'current' }));
  expect(current.$id === session.$id && current.current === true, 'getSession(current) is the new session');
  const read = await step('users.get (admin client)', () => new Users(admin()).get({ userId }));
  expect(read.$id === userId && read.email === user.email, 'users.get reads the same user');
  await step('account.deleteSession (session client)', () => account.deleteSession({ sessionId: 'current' }));
  const after = await refused('account.get after deleteSession', () => account.get());
  expect(after.code === 401, `account.get() after deleteSession gave ${after.code}`);
  return { email: user.email, secretLength: session.secret.length };
}

try {
  expect(ENDPOINT && KEY, 'LOGINKIT_ENDPOINT and LOGINKIT_API_KEY are required');
  const result = PHASE === 'start' ? await start() : PHASE === 'finish' ? await finish() : null;
  expect(result, `LOGINKIT_PHASE is start or finish, not ${PHASE}`);
  console.log(JSON.stringify({ ok: true, steps, ...result }));
} catch (e) {
  console.error(`ssr-node: ${e.message}`);
  console.log(JSON.stringify({ ok: false, steps, error: e.message }));
  process.exit(1);
}
