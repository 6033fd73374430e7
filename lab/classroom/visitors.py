"""Who is who among the visitors of one server, without accounts.

Each browser keeps a random visitor key in gr.BrowserState (localStorage, encrypted with this
server's secret); runs record it as their owner. Gradio's session hash cannot serve: it changes on
every page reload. The secret is kept in the data folder, so keys survive an app restart.
"""
import os
import re
import secrets

from lab import config

VISITOR_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_visitor_key() -> str:
    return secrets.token_urlsafe(12)


def valid_visitor_key(key) -> bool:
    return isinstance(key, str) and bool(VISITOR_KEY.match(key))


def browser_secret() -> str:
    """The key that encrypts BrowserState values; created once per data folder (mode 0600)."""
    path = config.lab_home() / "browser_secret"
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
