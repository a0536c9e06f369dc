"""Running cells on a real kernel and collecting each one's outputs by parent msg_id."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from kernel_helpers import KILL_SELF, SLEEP, fill_queue, running_manager, wait_for

from kernel_gateway.errors import CellTimeout, KernelQueueFull, KernelUnavailable
from kernel_gateway.services.kernels.execution import (
    ExecutionResult,
    execute,
    execute_request,
)


def test_execute_request_runs_cells_as_the_gateway_does() -> None:
    assert execute_request("x = 1") == {
        "code": "x = 1",
        "silent": False,
        "store_history": False,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }


def test_an_empty_result_is_ok_without_outputs() -> None:
    assert ExecutionResult("ok") == ExecutionResult(
        status="ok", stdout="", stderr="", execute_result=None, display_data=(), error=None
    )


# ipykernel aborts the requests queued when a cell fails; one that reaches its queue a moment
# later may run (a race inside the kernel), but never comes back "ok" without its output.
LATE_CELL_OUTCOMES = (
    ExecutionResult("aborted"),
    ExecutionResult("ok", execute_result={"text/plain": "42"}),
)

CELLS = [
    "import sys\nprint('out 1')\nprint('err', file=sys.stderr)\nprint('out 2')",
    "6 * 7",
    "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))\ndisplay(3)",
    "print('before')\nraise ValueError('bad value')",
    "print('never runs')",
    "40 + 2",
]


async def test_several_cells_return_their_own_outputs_in_order() -> None:
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())

        results = await execute(connection, CELLS, timeout=20)
        again = await execute(connection, ["print('runs again')"], timeout=20)

    error = results[3].error
    assert error is not None
    assert error[:2] == ("ValueError", "bad value")
    assert any("ValueError" in line for line in error[2])
    assert results == [
        ExecutionResult("ok", stdout="out 1\nout 2\n", stderr="err\n"),
        ExecutionResult("ok", execute_result={"text/plain": "42"}),
        ExecutionResult(
            "ok",
            display_data=(
                {"text/html": "<b>x</b>", "text/plain": "<IPython.core.display.HTML object>"},
                {"text/plain": "3"},
            ),
        ),
        ExecutionResult("error", stdout="before\n", error=error),
        ExecutionResult("aborted"),
        results[5],
    ]
    assert results[5] in LATE_CELL_OUTCOMES
    assert again == [ExecutionResult("ok", stdout="runs again\n")]


async def test_cells_after_a_failing_one_come_back_aborted_every_time() -> None:
    """The shell reply and the iopub idle status race each other: the reply must not be lost."""
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())

        rounds = [await execute(connection, ["1/0", "2", "6 * 7"], 20) for _ in range(30)]

    # ipykernel aborts the cells queued behind an error; one that reaches it after the abort
    # (a loaded machine) runs instead. Either way its reply must arrive, whole.
    second_outcomes = (
        ExecutionResult("aborted"),
        ExecutionResult("ok", execute_result={"text/plain": "2"}),
    )
    assert [results[0].status for results in rounds] == ["error"] * 30
    assert [results[1] for results in rounds if results[1] not in second_outcomes] == []
    assert [results[2] for results in rounds if results[2] not in LATE_CELL_OUTCOMES] == []


async def test_concurrent_requests_on_one_kernel_keep_their_outputs_apart() -> None:
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())

        first, second = await asyncio.gather(
            execute(connection, ["print('a')", "'A'"], timeout=20),
            execute(connection, ["print('b')", "'B'"], timeout=20),
        )

    assert first == [
        ExecutionResult("ok", stdout="a\n"),
        ExecutionResult("ok", execute_result={"text/plain": "'A'"}),
    ]
    assert second == [
        ExecutionResult("ok", stdout="b\n"),
        ExecutionResult("ok", execute_result={"text/plain": "'B'"}),
    ]


async def test_a_request_past_its_timeout_raises_cell_timeout() -> None:
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())

        started = time.monotonic()
        with pytest.raises(CellTimeout, match=r"longer than 0\.5 seconds"):
            await execute(connection, ["import time; time.sleep(30)"], timeout=0.5)

        assert time.monotonic() - started < 25  # not the end of the 30 s sleep
        assert connection.execution_state == "busy"


async def test_a_kernel_killed_during_a_request_makes_it_unavailable() -> None:
    async with running_manager() as manager:
        restarted = manager.connection(await manager.start_kernel(restart_on_death=True))
        left_dead = manager.connection(await manager.start_kernel(restart_on_death=False))

        started = time.monotonic()
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                execute(restarted, ["print('ran')", KILL_SELF, "print('never')"]),
                execute(left_dead, [KILL_SELF]),
                return_exceptions=True,
            ),
            timeout=15,
        )
        elapsed = time.monotonic() - started
        # shutting down during the restart is another test's subject: let the restart finish
        await wait_for(lambda: restarted.execution_state == "idle", 15, "the restart")

    assert [type(outcome) for outcome in outcomes] == [KernelUnavailable, KernelUnavailable]
    assert [str(outcome) for outcome in outcomes] == [
        "The kernel was restarting while running the request",
        "The kernel was dead while running the request",
    ]
    assert elapsed < 8


async def test_a_restart_asked_for_during_a_request_makes_it_unavailable() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        running = asyncio.ensure_future(execute(connection, [SLEEP], 20))
        await wait_for(lambda: connection.execution_state == "busy", 5, "the cell to start")

        restart = asyncio.ensure_future(manager.restart_kernel(kernel_id))
        with pytest.raises(KernelUnavailable) as info:
            await asyncio.wait_for(running, 5)
        await restart

    assert str(info.value) == "The kernel was shut down while running the request"


async def test_a_kernel_that_stopped_reading_fails_the_request_at_once() -> None:
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())
        await fill_queue(connection)
        subscribers = dict(connection._subscribers)

        with pytest.raises(KernelQueueFull):
            await asyncio.wait_for(execute(connection, ["print(1)", "print(2)"], 5), 1)

        assert connection._subscribers == subscribers  # stopped listening
        assert KernelQueueFull("").status_code == 503


def test_results_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExecutionResult("ok").status = "error"  # type: ignore[misc]
