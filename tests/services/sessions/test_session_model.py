"""Session request bodies: the current form, the deprecated notebook form, bad input."""

from __future__ import annotations

import pytest

from kernel_gateway.errors import BadRequest
from kernel_gateway.services.sessions import (
    NewSession,
    SessionChanges,
    parse_new_session,
    parse_session_changes,
)


def test_new_session_full_form() -> None:
    body = {"path": "a.ipynb", "type": "notebook", "name": "a", "kernel": {"name": "python3"}}
    assert parse_new_session(body) == NewSession(
        path="a.ipynb", type="notebook", name="a", kernel_name="python3"
    )


def test_new_session_with_kernel_id_and_no_name() -> None:
    body = {"path": "p", "type": "console", "kernel": {"id": "k1"}}
    assert parse_new_session(body) == NewSession(path="p", type="console", kernel_id="k1")


def test_new_session_deprecated_notebook_form() -> None:
    assert parse_new_session({"notebook": {"path": "old.ipynb"}}) == NewSession(
        path="old.ipynb", type="notebook"
    )
    assert parse_new_session({"notebook": {"name": "n.ipynb"}}) == NewSession(
        path="n.ipynb", type="notebook"
    )


BAD_NEW = {
    "not an object": ["path"],
    "no path": {"type": "notebook"},
    "no type": {"path": "p"},
    "path not string": {"path": 1, "type": "t"},
    "kernel not object": {"path": "p", "type": "t", "kernel": "python3"},
    "kernel name not string": {"path": "p", "type": "t", "kernel": {"name": 3}},
    "notebook not object": {"notebook": "x"},
}


@pytest.mark.parametrize("body", BAD_NEW.values(), ids=BAD_NEW.keys())
def test_bad_new_session_bodies(body: object) -> None:
    with pytest.raises(BadRequest):
        parse_new_session(body)


def test_missing_type_names_the_field() -> None:
    with pytest.raises(BadRequest, match="Missing field in JSON data: type"):
        parse_new_session({"path": "p"})


def test_changes_are_all_optional() -> None:
    assert parse_session_changes({}) == SessionChanges()
    assert parse_session_changes({"path": "b", "kernel": {"name": "python3"}}) == SessionChanges(
        path="b", kernel_name="python3"
    )
    assert parse_session_changes({"notebook": {"path": "c"}}) == SessionChanges(
        path="c", type="notebook"
    )


def test_bad_changes() -> None:
    with pytest.raises(BadRequest, match=r"kernel\.id must be a string"):
        parse_session_changes({"kernel": {"id": 5}})
    with pytest.raises(BadRequest):
        parse_session_changes(None)
