"""Errors the user can fix; their message is one plain sentence shown as it is."""


class UserError(Exception):
    """A problem with input or configuration that the user, not the code, must fix."""


DATABASE_UNREACHABLE = (
    "The database cannot be reached; check that it is running and that MAR_DATABASE_URL "
    "points to it, then reload."
)
