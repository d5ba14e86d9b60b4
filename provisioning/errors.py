"""The one error type of provisioning: what went wrong, in words an admin can act on."""

from __future__ import annotations


class ProvisioningError(Exception):
    """Bad input, a host that cannot be provisioned, or a step that failed; the message says
    which and what to do. The command line prints it and exits with status 1."""
