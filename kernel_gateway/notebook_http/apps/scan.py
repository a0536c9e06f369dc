"""Which apps a folder holds: `<slug>.ipynb` files and `<slug>/` folders with one notebook.

A folder's notebook is its `app.ipynb`, else the only `*.ipynb` in it. Names that are not
slugs are skipped (with one warning each per name); names starting with `.` are the
gateway's own temporary files and skipped silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
SLUG_PATTERN = SLUG.pattern
APP_NOTEBOOK = "app.ipynb"
EPHEMERAL_MARK = ".kg-ephemeral"  # in an ephemeral app's folder; its mtime is the last request
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppSource:
    """Where an app's files are: its notebook, and its folder (None for a lone notebook)."""

    slug: str
    notebook: Path
    folder: Path | None = None
    ephemeral: bool = False  # made by POST /_api/apps: it expires

    @property
    def paths(self) -> tuple[Path, ...]:
        """What deleting the app removes."""
        return (self.folder,) if self.folder is not None else (self.notebook,)


def is_slug(name: str) -> bool:
    """Whether `name` may name an app."""
    return SLUG.fullmatch(name) is not None


def folder_notebook(folder: Path) -> Path | None:
    """The notebook of an app folder: app.ipynb, else its only *.ipynb; None if neither."""
    if (folder / APP_NOTEBOOK).is_file():
        return folder / APP_NOTEBOOK
    found = [path for path in folder.glob("*.ipynb") if path.is_file()]
    return found[0] if len(found) == 1 else None


class AppScanner:
    """Lists the apps of `apps_dir`, warning once about each name it has to skip."""

    def __init__(self, apps_dir: Path) -> None:
        self.apps_dir = apps_dir
        self._warned: set[str] = set()

    def scan(self) -> dict[str, AppSource]:
        """The apps in the folder now, by slug."""
        found: dict[str, AppSource] = {}
        for entry in sorted(self.apps_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            source = self._source(entry)
            if source is None:
                continue
            if source.slug in found:
                self._warn(entry.name, f"{source.slug} is both a notebook and a folder")
                continue
            found[source.slug] = source
        return found

    def _source(self, entry: Path) -> AppSource | None:
        if entry.is_dir():
            if not is_slug(entry.name):
                self._warn(entry.name, "not a slug ([a-z0-9][a-z0-9_-]{0,62})")
                return None
            notebook = folder_notebook(entry)
            if notebook is None:
                self._warn(entry.name, "a folder needs app.ipynb or exactly one *.ipynb")
                return None
            return AppSource(entry.name, notebook, entry, (entry / EPHEMERAL_MARK).exists())
        if entry.suffix == ".ipynb" and entry.is_file():
            if not is_slug(entry.stem):
                self._warn(entry.name, "not a slug ([a-z0-9][a-z0-9_-]{0,62})")
                return None
            return AppSource(entry.stem, entry)
        return None

    def _warn(self, name: str, why: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            log.warning("Skipping %s in the apps folder: %s", name, why)
