"""Free loopback ports for servers the tests start (outside the ephemeral range)."""

from tidewell.util.ports import free_port

__all__ = ["free_port"]
