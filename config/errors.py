"""The user-facing error of the flows (its message is shown to the person as it is)."""

from __future__ import annotations


class FlowError(RuntimeError):
    """A request the flow cannot honour (wrong person, step already done, ...). Message is user-facing."""
