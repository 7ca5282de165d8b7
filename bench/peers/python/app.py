"""Benchmark peer: a minimal login web app on Authlib's Starlette client, served by uvicorn.

Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, PORT; optional SESSION_SECRET and WORKERS (read by ./run).
Redirect URI: http://127.0.0.1:$PORT/callback. Routes: GET /login, /callback, /me, /health.

Login state (state, nonce, PKCE verifier) and the session live in Starlette's signed session cookie.
"""

import asyncio
import contextlib
import hashlib
import hmac
import os
import sys
import tempfile

from authlib.integrations.starlette_client import OAuth
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"missing environment variable {name}")
    return value


ISSUER = _env("ISSUER").rstrip("/")
CLIENT_ID = _env("CLIENT_ID")
CLIENT_SECRET = _env("CLIENT_SECRET")
PORT = int(_env("PORT"))
WORKERS = int(os.environ.get("WORKERS") or 1)
BASE_URL = f"http://127.0.0.1:{PORT}"
REDIRECT_URI = f"{BASE_URL}/callback"
SESSION_MAX_AGE = 8 * 60 * 60

# Every worker process must sign cookies with the same key, so without SESSION_SECRET the key is
# derived from the client secret rather than generated per process.
SESSION_SECRET = os.environ.get("SESSION_SECRET") or hmac.new(
    CLIENT_SECRET.encode(), b"peer session cookie", hashlib.sha256
).hexdigest()

oauth = OAuth()
oauth.register(
    name="op",
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    server_metadata_url=f"{ISSUER}/.well-known/openid-configuration",
    client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
)


async def login(request):
    request.session.clear()
    return await oauth.op.authorize_redirect(request, REDIRECT_URI)


async def callback(request):
    try:
        # Checks state, exchanges the code with the PKCE verifier, and validates the ID token
        # (signature from the JWKS, iss, aud, exp, iat, nonce, at_hash).
        token = await oauth.op.authorize_access_token(request)
        id_claims = token.get("userinfo")
        if not id_claims:
            return PlainTextResponse("login failed: no ID token\n", status_code=400)
        userinfo = await oauth.op.userinfo(token=token)
        if userinfo.get("sub") != id_claims["sub"]:
            return PlainTextResponse("login failed: userinfo subject mismatch\n", status_code=400)
    except Exception as exc:
        return PlainTextResponse(f"login failed: {type(exc).__name__}\n", status_code=400)

    request.session.clear()
    request.session.update(
        {
            "sub": userinfo["sub"],
            "email": userinfo.get("email"),
            "access_token": token["access_token"],
            "expires_at": token.get("expires_at"),
        }
    )
    return RedirectResponse("/me", status_code=302)


async def me(request):
    sub = request.session.get("sub")
    if not sub:
        return PlainTextResponse("not logged in\n", status_code=401)
    return JSONResponse({"sub": sub, "email": request.session.get("email")})


async def health(request):
    return PlainTextResponse("ok\n")


def _first_worker_to_announce() -> bool:
    if WORKERS <= 1:
        return True
    marker = os.path.join(tempfile.gettempdir(), f"peer-authlib-{os.getppid()}-{PORT}.ready")
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


async def _announce_when_listening():
    # uvicorn binds the port after the lifespan startup has finished.
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", PORT)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        break
    if _first_worker_to_announce():
        with contextlib.suppress(OSError):
            print(f"listening on {BASE_URL}", flush=True)


@contextlib.asynccontextmanager
async def lifespan(app):
    await oauth.op.load_server_metadata()
    announce = asyncio.create_task(_announce_when_listening())
    yield
    announce.cancel()
    if WORKERS > 1:
        marker = os.path.join(tempfile.gettempdir(), f"peer-authlib-{os.getppid()}-{PORT}.ready")
        with contextlib.suppress(OSError):
            os.remove(marker)


app = Starlette(
    routes=[
        Route("/login", login),
        Route("/callback", callback),
        Route("/me", me),
        Route("/health", health),
    ],
    middleware=[
        Middleware(
            SessionMiddleware,
            secret_key=SESSION_SECRET,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=False,
        )
    ],
    lifespan=lifespan,
)
