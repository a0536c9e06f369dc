"""An uploaded app checked before it is kept: nbformat, then our own parse and settings.

Staging happens in a worker thread (a zip may be large); what fails is a BadRequest naming
the problem, and the staged copy is removed, so nothing of a refused upload stays.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import BadRequest, StartupError
from ...seed import parse_notebook_json
from ..version import build_version, content_digest
from .deploy import remove, stage_notebook, stage_zip, staged_notebook

if TYPE_CHECKING:
    from .registry import RegistryOptions

NOTEBOOK_TYPES = ("application/x-ipynb+json", "application/json")
ZIP_TYPES = ("application/zip", "application/x-zip-compressed")


@dataclass(frozen=True)
class Upload:
    """A deploy's body: a notebook or a zip of an app folder."""

    body: bytes
    is_zip: bool

    @classmethod
    def of(cls, body: bytes, content_type: str | None) -> Upload:
        """The upload a body of this Content-Type stands for; BadRequest for other types."""
        media = (content_type or "").split(";")[0].strip().lower()
        if media in NOTEBOOK_TYPES:
            return cls(body, is_zip=False)
        if media in ZIP_TYPES:
            return cls(body, is_zip=True)
        kinds = ", ".join((*NOTEBOOK_TYPES, *ZIP_TYPES))
        raise BadRequest(f"Deploy a notebook or a zip: Content-Type must be one of {kinds}")


def check_notebook(data: bytes, options: RegistryOptions, slug: str, mount_url: str) -> None:
    """BadRequest unless `data` is a valid notebook that parses into an app."""
    import nbformat

    try:
        text = data.decode("utf-8")
        nbformat.validate(nbformat.reads(text, as_version=4))
        notebook = parse_notebook_json(text, "the notebook")
        build_version(notebook, content_digest(data), options.parse, slug, mount_url)
    except UnicodeDecodeError as err:
        raise BadRequest(f"The notebook is not UTF-8: {err}") from err
    except (StartupError, nbformat.ValidationError, ValueError, TypeError, KeyError) as err:
        # nbformat raises TypeError or KeyError for JSON that is far from a notebook
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BadRequest(f"The notebook is not a valid app: {first}") from err


def _stage(upload: Upload, options: RegistryOptions, slug: str, mount: str, eph: bool) -> Path:
    apps_dir = options.apps_dir
    if upload.is_zip:
        staged = stage_zip(apps_dir, upload.body, options.max_app_size, eph)
    else:
        staged = stage_notebook(apps_dir, upload.body, eph)
    try:
        check_notebook(staged_notebook(staged).read_bytes(), options, slug, mount)
    except BaseException:
        remove(staged)
        raise
    return staged


async def stage(
    upload: Upload,
    options: RegistryOptions,
    slug: str,
    mount_url: str,
    ephemeral: bool = False,
) -> Path:
    """Write an upload to a hidden place in apps_dir and check it; its path, to install."""
    if len(upload.body) > options.max_app_size:
        raise BadRequest(f"The app is over max_app_size ({options.max_app_size} bytes)")
    return await asyncio.to_thread(_stage, upload, options, slug, mount_url, ephemeral)
