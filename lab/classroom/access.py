"""Who may see and stop which runs: visitors, the teacher and the admin of one server.

A visitor is the random key their browser keeps (lab/classroom/visitors.py). A run is *private* when a
visitor submitted it on a Space (see space.private_by_default); everything else — the CLI's runs,
demo runs the Space owner made, class-preset runs — is shared. The rules, enforced here and used by
runner, store and runs_view (not only by the UI):

- a visitor sees shared runs and their own; cancels and deletes only their own;
- the teacher (LAB_TEACHER_TOKEN) sees every run, cancels any run, and may lock class presets;
- the admin (LAB_ADMIN_TOKEN, set by the Space owner) sees, cancels and deletes everything;
- with no viewer at all (the CLI, scripts) nothing is filtered: whoever has the shell has the data;
- outside Space mode (one person's lab on a laptop) nothing is private and every run is the viewer's:
  a new browser session (a new visitor key) still lists "my" runs, may stop or delete any run, and no
  run is "another visitor's"; a class sharing one server starts it with `app.py --space`.

Tokens are compared in constant time; an empty or unset token never matches.
"""
import hmac
import os
from dataclasses import dataclass

from lab import config

ROLES = ("visitor", "teacher", "admin")


def role_for(token) -> str:
    """The role a typed token grants ("visitor" unless it matches an env token)."""
    token = (token or "").strip() if isinstance(token, str) else ""
    if not token:
        return "visitor"
    for role, name in (("admin", "LAB_ADMIN_TOKEN"), ("teacher", "LAB_TEACHER_TOKEN")):
        expected = os.environ.get(name, "")
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return role
    return "visitor"


@dataclass(frozen=True)
class Viewer:
    """Someone looking at runs through the app: their visitor key and role."""

    visitor: str = ""
    role: str = "visitor"

    @classmethod
    def of(cls, visitor, token="") -> "Viewer":
        return cls(visitor if isinstance(visitor, str) else "", role_for(token))

    @property
    def sees_all(self) -> bool:
        return self.role in ("teacher", "admin")

    @property
    def cancels_all(self) -> bool:
        return self.role in ("teacher", "admin")

    @property
    def deletes_all(self) -> bool:
        return self.role == "admin"

    @property
    def locks_presets(self) -> bool:
        return self.role in ("teacher", "admin")


def is_mine(owner: str, visitor: str) -> bool:
    """Is a run of `owner` the visitor's own? Outside Space mode every run is (one person's lab)."""
    if not config.space_mode():
        return True
    return bool(visitor) and owner == visitor


def owns(row: dict, viewer: Viewer | None) -> bool:
    return viewer is not None and is_mine(row.get("owner", ""), viewer.visitor)


def can_see(row: dict, viewer: Viewer | None) -> bool:
    if viewer is None or viewer.sees_all:
        return True
    return not row.get("private") or owns(row, viewer)


def can_cancel(row: dict, viewer: Viewer | None) -> bool:
    return viewer is None or not config.space_mode() or viewer.cancels_all or owns(row, viewer)


def can_delete(row: dict, viewer: Viewer | None) -> bool:
    return viewer is None or not config.space_mode() or viewer.deletes_all or owns(row, viewer)


def sql_filter(viewer: Viewer | None) -> tuple[str, list]:
    """A WHERE clause (without WHERE) and its parameters: the runs this viewer may see ("" for all)."""
    if viewer is None or viewer.sees_all:
        return "", []
    if not viewer.visitor:
        return "private = 0", []
    return "(private = 0 OR owner = ?)", [viewer.visitor]
