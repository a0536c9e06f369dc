"""notebook-http mode refuses to start on a bad notebook: non-zero exit, a message, no traceback.

The gateways run at once (threads), as most of them exit before starting any kernel.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import run_cli

NOTEBOOKS = Path(__file__).parent / "notebooks"
PARSER = "--NotebookHTTPPersonality.cell_parser"

# name -> (arguments, what the log must say)
CASES: dict[str, tuple[tuple[str, ...], str]] = {
    "failing seed cell": (
        (f"--seed_uri={NOTEBOOKS / 'seed_fails.ipynb'}",),
        "RuntimeError: the seed exploded",
    ),
    "malformed annotation": (
        (f"--seed_uri={NOTEBOOKS / 'malformed.ipynb'}",),
        'cell 3 "# POST": empty path after POST',
    ),
    "no endpoint": (
        (f"--seed_uri={NOTEBOOKS / 'no_endpoint.ipynb'}",),
        "the notebook declares no endpoint",
    ),
    "missing seed notebook": (
        (f"--seed_uri={NOTEBOOKS / 'missing.ipynb'}",),
        f"Cannot read seed notebook {NOTEBOOKS / 'missing.ipynb'}",
    ),
    "no seed_uri": ((), "--seed_uri"),
    "missing apps_dir": (
        (f"--NotebookHTTPPersonality.apps_dir={NOTEBOOKS / 'missing'}",),
        f"apps_dir {NOTEBOOKS / 'missing'} is not a folder",
    ),
    "unknown cell parser": (
        (f"--seed_uri={NOTEBOOKS / 'pool.ipynb'}", f"{PARSER}=nope"),
        "Unknown cell_parser 'nope'",
    ),
    "swagger parser on a plain notebook": (
        (
            f"--seed_uri={NOTEBOOKS / 'pool.ipynb'}",
            f"{PARSER}=kernel_gateway.notebook_http.swagger.parser",
        ),
        'cell 1 "import os": the first cell must hold the OpenAPI document',
    ),
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, subprocess.CompletedProcess[str]]:
    """Each case's finished gateway process, all run at once."""

    def run(case: str) -> subprocess.CompletedProcess[str]:
        return run_cli("--api=notebook-http", "--port=0", *CASES[case][0], timeout=60)

    with ThreadPoolExecutor(len(CASES)) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.mark.parametrize("case", CASES)
def test_bad_notebook_stops_start_up(
    outcomes: dict[str, subprocess.CompletedProcess[str]], case: str
) -> None:
    outcome = outcomes[case]
    assert outcome.returncode != 0
    assert CASES[case][1] in outcome.stdout
    assert "Traceback" not in outcome.stdout
    assert "notebook-http mode) at" not in outcome.stdout  # never served
