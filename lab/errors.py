"""Errors that reach a user: a message key plus parameters, so the UI can say it in either language."""


class LabError(Exception):
    """A problem the user can fix. `key` names a message in assets/i18n/<lang>.json."""

    def __init__(self, key: str, **params):
        self.key = key
        self.params = params
        super().__init__(key)

    def message(self, lang: str = "en") -> str:
        from lab.present.i18n import t

        return t(f"error.{self.key}", lang, **self.params)

    def __str__(self) -> str:
        return self.message("en")


class JobCancelled(LabError):
    """A job that stopped cleanly on a cancel request (e.g. after saving a checkpoint): recorded as cancelled."""
