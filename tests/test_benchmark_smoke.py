"""`make bench` kept from rotting: our side (encrypted and plain) of every scenario, tiny counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_benchmark_of_our_side_measures_every_scenario(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    command = [sys.executable, "benchmarks/run.py", "--quick", "--only", "ours"]
    finished = subprocess.run(
        [*command, "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,  # our side twice: with CurveZMQ and plain
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr

    report = json.loads(results.read_text())
    assert [o["error"] for o in report["outcomes"] if o["error"]] == []
    rows = {r["metric"]: r["floor"] if r["ours"] is None else r["ours"] for r in report["rows"]}
    assert {row["scenario"] for row in report["rows"]} == {
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
    }
    paired = [row for row in report["rows"] if row["scenario"] == "8"]
    assert len(paired) == 8
    assert [(row["ours"] > 0, row["plain"] > 0) for row in paired] == [(True, True)] * 8
    errors = {name: value for name, value in rows.items() if name.endswith("errors")}
    assert errors
    assert set(errors.values()) == {0}
    # an overhead over the floor is a difference of two medians: a quick run may find it < 0
    overheads = {name: value for name, value in rows.items() if name.endswith("minus floor")}
    assert overheads
    assert all(isinstance(value, (int, float)) for value in overheads.values()), overheads
    measured = {name: value for name, value in rows.items() if name not in errors | overheads}
    unmeasured = [name for name, value in measured.items() if not value or value <= 0]
    assert unmeasured == []
