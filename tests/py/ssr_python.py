"""End-to-end test: server-side rendering with the real Appwrite Python SDK (appwrite 27.0.0,
tests/py/requirements.txt) against a running loginkit-server, the pattern of Appwrite's SSR guides.

    LOGINKIT_ENDPOINT=http://127.0.0.1:43123/v1 LOGINKIT_PROJECT=default LOGINKIT_API_KEY=<key> \
    LOGINKIT_PHASE=start tests/py/.venv/bin/python tests/py/ssr_python.py

Two phases, with the browser's walk between them (the test drives it):
  start:  an admin client (set_key) calls create_o_auth2_token; prints the provider URL the app's
          server would redirect the browser to.
  finish: with LOGINKIT_USER_ID and LOGINKIT_SECRET (what the app's success route receives), checks
          a client without the key cannot redeem the secret, redeems it with the admin client
          (create_session: a Session whose secret is filled), then as a session client
          (set_session) reads the account and the session, reads the user with users.get (admin),
          deletes the session, and checks the session client is then refused with 401.
Prints one JSON summary line; exits non-zero on the first failure. Secrets are never printed.
"""

import os

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.account import Account
from appwrite.services.users import Users

from sdk_steps import done, fail, step, steps

endpoint = os.environ["LOGINKIT_ENDPOINT"]
project = os.environ.get("LOGINKIT_PROJECT", "default")
key = os.environ["LOGINKIT_API_KEY"]
phase = os.environ.get("LOGINKIT_PHASE")
app = "http://localhost:3000"


def refused(name, run):
    try:
        run()
    except AppwriteException as error:
        steps.append(f"{name}: {error.code} {error.type}")
        return error
    fail(f"{name}: expected a refusal, but the call succeeded")


def field(model, name):
    """A field of an SDK model (whose attributes are the JSON names in lower case), or of a dict."""
    return model.get(name) if isinstance(model, dict) else getattr(model, name.lower(), None)


def admin():
    return Client().set_endpoint(endpoint).set_project(project).set_key(key)


def start():
    url = step(
        "create_o_auth2_token (admin client)",
        lambda: Account(admin()).create_o_auth2_token(provider="mock", success=f"{app}/ok", failure=f"{app}/fail"),
    )
    if not isinstance(url, str) or "/mock/oauth2/authorize" not in url:
        fail(f"create_o_auth2_token returned {url!r}")
    return {"url": url}


def finish():
    user_id = os.environ["LOGINKIT_USER_ID"]
    secret = os.environ["LOGINKIT_SECRET"]
    guest = Account(Client().set_endpoint(endpoint).set_project(project))
    error = refused("create_session without the key", lambda: guest.create_session(user_id=user_id, secret=secret))
    if error.code != 401 or error.type != "user_invalid_token":
        fail(f"a keyless redemption gave {error.code} {error.type}")
    session = step("create_session (admin client)", lambda: Account(admin()).create_session(user_id=user_id, secret=secret))
    session_secret = field(session, "secret")
    if field(session, "userId") != user_id:
        fail("the session is another user's")
    if not isinstance(session_secret, str) or len(session_secret) < 40:
        fail("the Session carries no secret")
    account = Account(Client().set_endpoint(endpoint).set_project(project).set_session(session_secret))
    user = step("account.get (session client)", lambda: account.get())
    email = field(user, "email")
    if not email:
        fail("account.get() has no email")
    current = step("account.get_session (session client)", lambda: account.get_session(session_id="current"))
    if field(current, "current") is not True:
        fail("get_session(current) is not the current session")
    read = step("users.get (admin client)", lambda: Users(admin()).get(user_id=user_id))
    if field(read, "email") != email:
        fail("users.get reads another user")
    step("account.delete_session (session client)", lambda: account.delete_session(session_id="current"))
    after = refused("account.get after delete_session", lambda: account.get())
    if after.code != 401:
        fail(f"account.get() after delete_session gave {after.code}")
    return {"email": email, "secretLength": len(session_secret)}


if phase == "start":
    result = start()
elif phase == "finish":
    result = finish()
else:
    fail(f"LOGINKIT_PHASE is start or finish, not {phase!r}")
done(**result)
