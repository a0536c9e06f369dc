"""notebook-http mode: annotated notebook cells served as HTTP endpoints."""

from __future__ import annotations

from typing import Any

from ..personality import GatewayContext
from .personality import NotebookHTTPPersonality

__all__ = ["NotebookHTTPPersonality", "create_personality"]


def create_personality(context: GatewayContext, **kwargs: Any) -> NotebookHTTPPersonality:
    """The app's entry point to this mode."""
    return NotebookHTTPPersonality(context, **kwargs)
