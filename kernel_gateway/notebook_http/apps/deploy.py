"""Writing uploaded apps into apps_dir: staged in a hidden temporary place, checked, then
renamed into place, so a crash never leaves half an app.

A zip entry that would land outside the app folder, a link, or more than `max_size` bytes
unpacked is refused before anything is kept. Names starting with `.` are invisible to the
scanner, which is what keeps staged and retired copies out of the app list.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from ...errors import BadRequest
from .scan import APP_NOTEBOOK, EPHEMERAL_MARK, AppSource, folder_notebook

CHUNK = 1024 * 1024


def _hidden(apps_dir: Path, kind: str) -> Path:
    return apps_dir / f".{kind}-{secrets.token_hex(8)}"


def remove(path: Path) -> None:
    """Delete a file or a folder, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def stage_notebook(apps_dir: Path, body: bytes, ephemeral: bool = False) -> Path:
    """Write a notebook upload to a hidden file (a hidden folder for an ephemeral app)."""
    if not ephemeral:
        staged = _hidden(apps_dir, "upload").with_suffix(".ipynb")
        staged.write_bytes(body)
        return staged
    folder = _hidden(apps_dir, "upload")
    folder.mkdir()
    (folder / APP_NOTEBOOK).write_bytes(body)
    (folder / EPHEMERAL_MARK).touch()
    return folder


def _entry_target(folder: Path, info: zipfile.ZipInfo) -> Path:
    """Where a zip entry lands; BadRequest for a link, an absolute path or a way out."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BadRequest(f"The zip entry {info.filename!r} is a link; links are not allowed")
    name = PurePosixPath(info.filename.replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or info.filename.startswith("/"):
        raise BadRequest(f"The zip entry {info.filename!r} would land outside the app folder")
    return folder.joinpath(*name.parts)


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Unpack one entry; return the bytes left of the budget (BadRequest when spent)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(CHUNK):
            budget -= len(chunk)
            if budget < 0:
                raise BadRequest("The zip unpacks to more than max_app_size bytes")
            sink.write(chunk)
    return budget


def stage_zip(apps_dir: Path, body: bytes, max_size: int, ephemeral: bool = False) -> Path:
    """Unpack a zip of an app folder into a hidden folder; BadRequest (nothing kept) if it is
    not a zip, holds a link or a way out, unpacks past `max_size`, or has no notebook."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, ValueError) as err:
        raise BadRequest(f"The body is not a zip file: {err}") from err
    folder = _hidden(apps_dir, "upload")
    try:
        with archive:
            infos = archive.infolist()
            targets = [(info, _entry_target(folder, info)) for info in infos]
            if sum(info.file_size for info in infos) > max_size:
                raise BadRequest("The zip unpacks to more than max_app_size bytes")
            folder.mkdir()
            budget = max_size
            for info, target in targets:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    budget = _copy(archive, info, target, budget)
        folder = _unwrap(apps_dir, folder)
        if folder_notebook(folder) is None:
            raise BadRequest(f"The zip holds no {APP_NOTEBOOK} nor exactly one *.ipynb at its top")
        if ephemeral:
            (folder / EPHEMERAL_MARK).touch()
    except (BadRequest, OSError, zipfile.BadZipFile, RuntimeError, EOFError) as err:
        remove(folder)
        if isinstance(err, BadRequest):
            raise
        raise BadRequest(f"The zip can't be unpacked: {err}") from err
    return folder


def _unwrap(apps_dir: Path, folder: Path) -> Path:
    """A zip of the folder itself (`app/app.ipynb`): the inner folder becomes the app."""
    children = list(folder.iterdir())
    if folder_notebook(folder) is not None or len(children) != 1 or not children[0].is_dir():
        return folder
    inner = _hidden(apps_dir, "upload")
    os.replace(children[0], inner)
    remove(folder)
    return inner


def staged_notebook(staged: Path) -> Path:
    """The notebook file of a staged upload."""
    notebook = folder_notebook(staged) if staged.is_dir() else staged
    assert notebook is not None  # staging checked it
    return notebook


def install(apps_dir: Path, slug: str, staged: Path, existing: AppSource | None) -> list[Path]:
    """Move a staged upload into place as app `slug`, replacing `existing` (renames only).

    Returns the replaced files, renamed out of sight: kernels of the old version may still
    run in its folder, so the caller removes them once that version has drained.
    """
    if not staged.is_dir():
        target = existing.notebook if existing is not None else apps_dir / f"{slug}.ipynb"
        os.replace(staged, target)
        return []
    retired = retire(apps_dir, existing.paths) if existing is not None else []
    os.replace(staged, apps_dir / slug)
    return retired


def retire(apps_dir: Path, paths: tuple[Path, ...]) -> list[Path]:
    """Rename an app's files out of the scanner's sight; their new names, to remove later."""
    retired = []
    for path in paths:
        hidden = _hidden(apps_dir, "retired")
        try:
            os.replace(path, hidden)
        except FileNotFoundError:
            continue
        retired.append(hidden)
    return retired


def clear_leftovers(apps_dir: Path) -> None:
    """Remove what a crash left of uploads being staged and files being retired."""
    for kind in ("upload", "retired"):
        for path in apps_dir.glob(f".{kind}-*"):
            remove(path)
