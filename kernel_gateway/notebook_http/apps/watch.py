"""Watching files with watchfiles: a callback each time a watched notebook changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

DEBOUNCE_MS = 300  # changes closer together than this come as one batch
log = logging.getLogger(__name__)


async def watch_notebooks(
    folder: Path,
    on_change: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    only: Path | None = None,
) -> None:
    """Call `on_change` after notebooks (or top-level entries) under `folder` change, or
    after the file `only` changes, until `stop` is set. A failing callback is logged."""
    top = str(folder)

    def relevant(change: Change, path: str) -> bool:
        if only is not None:
            return path == str(only)
        return path.endswith(".ipynb") or str(Path(path).parent) == top

    async for _ in awatch(
        folder,
        watch_filter=relevant,
        stop_event=stop,
        debounce=DEBOUNCE_MS,
        step=50,
        recursive=only is None,
    ):
        try:
            await on_change()
        except Exception:
            log.exception("Reloading after a change under %s failed", folder)
