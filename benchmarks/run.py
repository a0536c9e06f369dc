"""make bench: our gateway against jupyter-kernel-gateway 3.0.1, side by side, on loopback.

Usage: .venv/bin/python benchmarks/run.py [--rounds N] [--quick] [--only ours|peer]
       [--encryption both|on|off] [--scenarios 1,2,...] [--json PATH]

Our side runs with CurveZMQ between gateway and kernels (the default, "ours") and, with
`--encryption both` (the default), once more without it ("plain"), in the same rounds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.encryption import encryption_paired
from benchmarks.measures import FULL, QUICK, Context, Metric
from benchmarks.scenarios import SCENARIOS, TITLES, floor
from benchmarks.servers import (
    BENCH_DIR,
    OURS,
    OURS_PLAIN,
    PEER,
    ROOT,
    Gateway,
    ensure_peer_venv,
    load_average,
    package_versions,
)
from benchmarks.stats import median, round_ratios

ALL_SCENARIOS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
SIDES = ("ours", "plain", "peer", "floor")


@dataclass(frozen=True)
class Outcome:
    """What one scenario gave for one side in one round: metrics, or the error that stopped it."""

    round: int
    side: str
    scenario: str
    metrics: tuple[Metric, ...]
    error: str | None
    seconds: float
    load: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny counts and 1 round: a smoke test"
    )
    parser.add_argument("--only", choices=["ours", "peer"], help="run one side only")
    parser.add_argument(
        "--encryption",
        choices=["both", "on", "off"],
        default="both",
        help="our side with CurveZMQ to its kernels (on), without (off), or both in the same "
        "rounds (default): the table's ours/plain column is the cost of encryption",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(ALL_SCENARIOS),
        help="comma-separated scenario numbers (6 needs 2; 7 is the no-gateway floor; 8 pairs "
        "ours encrypted and plain, with --encryption both)",
    )
    parser.add_argument(
        "--json", type=Path, default=BENCH_DIR / "results.json", help="results file"
    )
    args = parser.parse_args(argv)
    chosen = {part.strip() for part in args.scenarios.split(",") if part.strip()}
    unknown = chosen - set(ALL_SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {','.join(ALL_SCENARIOS)}")
    if "6" in chosen:
        chosen.add("2")
    args.chosen = sorted(chosen, key=int)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def run_one(gateway: Gateway | None, key: str, ctx: Context, round_no: int) -> Outcome:
    """Run one scenario (or the floor when gateway is None); a failure becomes an Outcome."""
    side = gateway.side if gateway else "floor"
    print(f"round {round_no} {side:5} s{key} {TITLES[key]} ...", end=" ", flush=True)
    start = time.monotonic()
    try:
        metrics = floor(ctx) if gateway is None else SCENARIOS[key][1](gateway, ctx)
        error = None
    except Exception as err:  # the harness reports any failure and goes on with the next one
        metrics, error = [], f"{type(err).__name__}: {err}"
        (ctx.log_dir / f"{side}-s{key}-traceback.txt").write_text(traceback.format_exc())
    seconds = time.monotonic() - start
    print(f"{seconds:.1f} s" + (f"\n  FAILED: {error}" if error else ""), flush=True)
    return Outcome(round_no, side, key, tuple(metrics), error, seconds, load_average())


def run_paired(ctx: Context, round_no: int) -> list[Outcome]:
    """Scenario 8 (ours encrypted and plain, requests alternating): one Outcome per side."""
    print(f"round {round_no} both  s8 {TITLES['8']} ...", end=" ", flush=True)
    start = time.monotonic()
    try:
        metrics, error = encryption_paired(ctx), None
    except Exception as err:  # the harness reports any failure and goes on with the next one
        metrics, error = {}, f"{type(err).__name__}: {err}"
        (ctx.log_dir / "both-s8-traceback.txt").write_text(traceback.format_exc())
    seconds = time.monotonic() - start
    print(f"{seconds:.1f} s" + (f"\n  FAILED: {error}" if error else ""), flush=True)
    return [
        Outcome(round_no, side, "8", tuple(metrics.get(side, ())), error, seconds, load_average())
        for side in ("ours", "plain")
    ]


def summarize(outcomes: list[Outcome], rounds: int) -> list[dict[str, object]]:
    """Return one row per metric: per-round values of each side, medians, median ratio."""
    order: dict[tuple[str, str], Metric] = {}
    values: dict[tuple[str, str, str], list[float | None]] = {}
    for outcome in outcomes:
        for metric in outcome.metrics:
            order.setdefault((metric.scenario, metric.name), metric)
            per_round = values.setdefault(
                (outcome.side, metric.scenario, metric.name), [None] * rounds
            )
            per_round[outcome.round - 1] = metric.value
    rows = []
    for (scenario, name), metric in sorted(order.items(), key=lambda item: int(item[0][0])):
        sides = {side: values.get((side, scenario, name), [None] * rounds) for side in SIDES}
        medians = {side: _median_or_none(v) for side, v in sides.items()}
        ratios = round_ratios(sides["ours"], sides["peer"])
        encryption = round_ratios(sides["ours"], sides["plain"])
        rows.append(
            {
                "scenario": scenario,
                "metric": name,
                "unit": metric.unit,
                "better": metric.better,
                "rounds": sides,
                "ours": medians["ours"],
                "plain": medians["plain"],
                "peer": medians["peer"],
                "floor": medians["floor"],
                "ratio": median(ratios) if ratios else None,
                "encryption_ratios": encryption,
                "encryption_ratio": median(encryption) if encryption else None,
            }
        )
    return rows


def _median_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return median(present) if present else None


def _cell(value: float | None, failed: bool, unit: str) -> str:
    if value is None:
        return "FAILED" if failed else "-"
    if unit == "count":
        return f"{value:.0f}"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _ratio(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "-"


def render_table(rows: list[dict[str, object]], failed: dict[str, set[str]]) -> str:
    """Return the results as an aligned text table, scenario titles listed under it."""
    header = ("#", "metric", "unit", "better", "ours", "plain", "peer", "ours/peer", "ours/plain")
    lines = [header]
    for row in rows:
        scenario = str(row["scenario"])
        floor_value = row["floor"]
        if isinstance(floor_value, float):
            ours = plain = peer = _cell(floor_value, False, str(row["unit"]))
            ratio, encryption = "(no gateway)", ""
        else:
            unit = str(row["unit"])
            ours, plain, peer = (
                _cell(row[side], scenario in failed[side], unit)  # type: ignore[arg-type]
                for side in ("ours", "plain", "peer")
            )
            ratio = _ratio(row["ratio"])
            encryption = _ratio(row["encryption_ratio"])
        metric = (scenario, str(row["metric"]), str(row["unit"]), str(row["better"]))
        lines.append((*metric, ours, plain, peer, ratio, encryption))
    sides = ("ours", "plain", "peer")
    for key in sorted(
        set().union(*(failed[s] for s in sides)) - {str(r["scenario"]) for r in rows}, key=int
    ):
        cells = ["FAILED" if key in failed[side] else "-" for side in sides]
        lines.append((key, "(no result)", "", "", *cells, "-", "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = []
    for line in lines:
        cells = [
            c.ljust(w) if i < 4 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        text.append("  ".join(cells))
    text.insert(1, "-" * len(text[0]))
    shown = sorted(
        {str(row["scenario"]) for row in rows}.union(*(failed[s] for s in sides)), key=int
    )
    text.append("")
    text += [f"  {key}: {TITLES[key]}" for key in shown]
    return "\n".join(text)


def render_encryption_rounds(rows: list[dict[str, object]]) -> str:
    """The per-round ratios ours/plain (the cost of encryption), one line per metric."""
    lines = []
    for row in rows:
        ratios = row.get("encryption_ratios")
        if isinstance(ratios, list) and len(ratios) > 1:
            each = ", ".join(f"{ratio:.2f}" for ratio in ratios)
            lines.append(f"  {row['scenario']} {row['metric']}: {each}")
    return "\nours/plain per round:\n" + "\n".join(lines) if lines else ""


def run_rounds(args: argparse.Namespace, gateways: list[Gateway], ctx: Context) -> list[Outcome]:
    """Run the chosen scenarios round by round: every side in turn, then the floor."""
    outcomes = []
    gateway_keys = [key for key in args.chosen if key in SCENARIOS]  # 7 and 8 run apart
    for round_no in range(1, args.rounds + 1):
        for gateway in gateways:
            outcomes += [run_one(gateway, key, ctx, round_no) for key in gateway_keys]
        if "7" in args.chosen:
            outcomes.append(run_one(None, "7", ctx, round_no))
        if "8" in args.chosen and {OURS, OURS_PLAIN} <= set(gateways):
            outcomes += run_paired(ctx, round_no)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON results; return 0."""
    args = parse_args(argv)
    ours = {"both": [OURS, OURS_PLAIN], "on": [OURS], "off": [OURS_PLAIN]}[args.encryption]
    gateways = [
        *(ours if args.only in (None, "ours") else []),
        *([PEER] if args.only != "ours" else []),
    ]
    if PEER in gateways:
        ensure_peer_venv()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    ctx = Context(QUICK if args.quick else FULL, BENCH_DIR / "logs" / stamp)
    ctx.log_dir.mkdir(parents=True, exist_ok=True)
    versions = {g.side: package_versions(g) for g in gateways}
    print(f"versions: {json.dumps(versions)}\nlogs: {ctx.log_dir}", flush=True)
    load = load_average()
    if load > 0.5:
        print(
            f"note: load average {load:.2f} before starting: other work on this machine adds noise"
        )
    started = time.monotonic()
    outcomes = run_rounds(args, gateways, ctx)
    rows = summarize(outcomes, args.rounds)
    failed = {
        side: {o.scenario for o in outcomes if o.side == side and o.error}
        for side in ("ours", "plain", "peer")
    }
    print()
    print(render_table(rows, failed))
    print(render_encryption_rounds(rows))
    for outcome in outcomes:
        if outcome.error:
            where = f"round {outcome.round} {outcome.side} s{outcome.scenario}"
            print(f"  {where} FAILED: {outcome.error.splitlines()[0]}")
    if any(outcome.error for outcome in outcomes):
        print(f"  (server logs and tracebacks: {ctx.log_dir})")
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "rounds": args.rounds,
        "quick": args.quick,
        "scenarios": args.chosen,
        "encryption": args.encryption,
        "budget": asdict(ctx.budget),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
        "seconds": round(time.monotonic() - started, 1),
        "load_average_before": load,
        "logs": str(ctx.log_dir.relative_to(ROOT)),
    }
    payload = {"meta": meta, "rows": rows, "outcomes": [asdict(o) for o in outcomes]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nresults: {args.json}  ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
