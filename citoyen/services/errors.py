"""Domain errors: their message is the French sentence shown to the user."""


class DomainError(Exception):
    """A rule said no. ``field`` names the form field the message belongs to."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass
