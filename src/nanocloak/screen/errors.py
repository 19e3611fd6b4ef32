"""The screens' error."""

from nanocloak.errors import NanocloakError


class SpaceError(NanocloakError):
    """A space file that cannot be screened; the message names the field and what is allowed."""
