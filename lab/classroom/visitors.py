"""Who is who among the visitors of one server, without accounts.

The server issues each browser a visitor credential "<key>.<signature>": a random key and an HMAC of
it under a signing secret that never leaves the server (lab_home/visitor_signing_secret, mode 0600).
The browser keeps the credential (gr.BrowserState) so its runs survive a reload; the server verifies
it on every page load and from then on uses the key it verified, held in server-side session state
(gr.State), as the owner of runs. A browser cannot choose its key: a forged or edited credential
fails verification and gets a new key, and "", "cli" and "demo" (the CLI's and the Space owner's
runs) can never be the result of a verification.

New keys are rate-limited per client address (Space mode), so clearing the browser's storage to get
a fresh quota works only a few times an hour; and the limits that count queued runs count them per
address too (`same_origin`).
"""
import hashlib
import hmac
import os
import re
import secrets
import threading
import time

from lab import config

VISITOR_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
RESERVED = {"", "cli", "demo"}  # owners that only the server side may use
_origins: dict[str, str] = {}  # visitor key -> client address it was issued to or last verified from
_issued: dict[str, list[float]] = {}  # client address -> times new keys were issued (last hour)
_lock = threading.Lock()


def new_visitor_key() -> str:
    return secrets.token_urlsafe(16)


def valid_visitor_key(key) -> bool:
    return isinstance(key, str) and bool(VISITOR_KEY.match(key)) and key not in RESERVED


def _secret_file(name: str) -> str:
    """A random secret kept in the data folder (mode 0600), created once; stable across restarts."""
    path = config.lab_home() / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
        return secret
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text().strip()


def browser_secret() -> str:
    """The key Gradio uses to encrypt BrowserState values. Gradio publishes it in the page's config, so
    it protects nothing from a script on the page: nothing secret may be stored in BrowserState."""
    return _secret_file("browser_secret")


def _signature(key: str) -> str:
    secret = _secret_file("visitor_signing_secret")
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()[:32]


def credential_for(key: str) -> str:
    return f"{key}.{_signature(key)}"


def verify(credential) -> str:
    """The visitor key a credential proves, or "" (forged, edited, reserved or malformed)."""
    if not isinstance(credential, str) or credential.count(".") != 1 or len(credential) > 200:
        return ""
    key, signature = credential.split(".")
    if not valid_visitor_key(key):
        return ""
    return key if hmac.compare_digest(signature, _signature(key)) else ""


def max_new_keys_per_hour() -> int:
    return config._int_env("LAB_VISITOR_MAX_NEW_KEYS", 20, minimum=0)  # 0: no limit


def session_visitor(credential, client: str = "") -> tuple[str, str]:
    """(visitor key, credential to store in the browser) for a page load from `client` (an address).

    A valid credential keeps its key. Otherwise a new key is issued, unless this address had too
    many new keys within the hour (Space mode), in which case ("", "") is returned: the page works
    but cannot start runs until a key is issued."""
    key = verify(credential)
    if key:
        remember_origin(key, client)
        return key, credential
    if config.space_mode() and client and max_new_keys_per_hour():
        now = time.time()
        with _lock:
            recent = [t for t in _issued.get(client, []) if now - t < 3600]
            if len(recent) >= max_new_keys_per_hour():
                _issued[client] = recent
                return "", ""
            _issued[client] = recent + [now]
    key = new_visitor_key()
    remember_origin(key, client)
    return key, credential_for(key)


def remember_origin(key: str, client: str) -> None:
    if key and client:
        with _lock:
            _origins[key] = client


def same_origin(key: str) -> list[str]:
    """Every visitor key seen from the address this key was last seen from (the key itself included)."""
    with _lock:
        origin = _origins.get(key)
        if not origin:
            return [key]
        return sorted({k for k, o in _origins.items() if o == origin} | {key})


def fingerprint(key: str) -> str:
    """What the header shows of a visitor key: enough to tell two browsers apart, never the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:6] if key else ""
