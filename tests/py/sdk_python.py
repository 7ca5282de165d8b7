"""End-to-end test: the real Appwrite Python SDK (appwrite 27.0.0, tests/py/requirements.txt)
against a running loginkit-server, as a server-side app uses it.

    LOGINKIT_ENDPOINT=http://127.0.0.1:43123/v1 LOGINKIT_PROJECT=default \
    LOGINKIT_SESSION=<a session cookie value> tests/py/.venv/bin/python tests/py/sdk_python.py

Starts a token-flow login (create_o_auth2_token: a 301 the SDK reads the Location of), then, as a
session client (set_session), reads the account and deletes the session (a 204), and checks the
session is gone. Prints one JSON summary line; exits non-zero on the first failure.
"""

import os

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.account import Account

from sdk_steps import done, fail, step, steps

endpoint = os.environ["LOGINKIT_ENDPOINT"]
project = os.environ.get("LOGINKIT_PROJECT", "default")
session = os.environ["LOGINKIT_SESSION"]


guest = Account(Client().set_endpoint(endpoint).set_project(project))
url = step(
    "create_o_auth2_token",
    lambda: guest.create_o_auth2_token(provider="mock", success="http://localhost/ok", failure="http://localhost/fail"),
)
if not isinstance(url, str) or "/mock/oauth2/authorize" not in url:
    fail(f"create_o_auth2_token returned {url!r}")

account = Account(Client().set_endpoint(endpoint).set_project(project).set_session(session))
user = step("get", lambda: account.get())
email = getattr(user, "email", None) if not isinstance(user, dict) else user.get("email")
if not email:
    fail(f"account.get() has no email: {user!r}")
step("delete_session", lambda: account.delete_session(session_id="current"))
try:
    account.get()
    fail("account.get() after delete_session succeeded")
except AppwriteException as error:
    if error.code != 401:
        fail(f"account.get() after delete_session gave {error.code}")
steps.append("get after delete: 401")
done(email=email)
