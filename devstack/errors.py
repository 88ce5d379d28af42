"""The one exception type devstack reports to the user."""


class DevstackError(Exception):
    """A failure shown to the user as its message alone (no traceback): what went wrong and what to do."""
