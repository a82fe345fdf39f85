"""Errors the user can fix; their message is one plain sentence shown as it is."""


class UserError(Exception):
    """A problem with input or configuration that the user, not the code, must fix."""
