"""The fast path's request runner on a real IPython kernel, against the execute path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from kernel_helpers import SLEEP, running_manager

from kernel_gateway.errors import CellTimeout
from kernel_gateway.notebook_http.fastpath.runner import FastRunner, install, is_ipython
from kernel_gateway.notebook_http.request import request_assignment, request_value, with_request
from kernel_gateway.services.kernels.connection import KernelConnection
from kernel_gateway.services.kernels.execution import ExecutionResult, execute
from kernel_gateway.services.kernels.failures import failing_line

REQUEST = json.dumps({"body": {"name": "é"}, "args": {}, "path": {}, "headers": {}})
CELLS = [
    "print('hi')",
    "6 * 7",
    "x = 3\nx * 2;",
    "import sys\nprint('out')\nprint('err', file=sys.stderr)",
    "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))\ndisplay(3)",
    "import json\njson.loads(REQUEST)['body']",
    "print('before')\nraise ValueError('bad value')",
    "x = 1\n\n1 / 0",
    "%time 1 + 1",
    "%%capture out\nprint('captured')",
    "!echo shell",
    "print('ünïcode ✓')\n'ünïcode ✓'",
    "def f():\n    return {'a': [1, 2]}\nf()",
]


@asynccontextmanager
async def runner_and_kernel() -> AsyncIterator[tuple[FastRunner, KernelConnection]]:
    """A runner installed in a fresh IPython kernel, and the kernel's connection."""
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())
        runner = await install(connection)
        assert runner is not None
        yield runner, connection


def comparable(result: ExecutionResult) -> tuple[object, ...]:
    """What a client can see of a result: the line of an error rather than its frames."""
    error = None
    if result.error:
        ename, evalue, trace = result.error
        error = (ename, failing_line(evalue, trace))
    stdout = result.stdout if "Wall time" not in result.stdout else "timed"
    return (result.status, stdout, result.stderr, result.execute_result, result.display_data, error)


async def test_each_cell_gives_what_an_execute_gives() -> None:
    async with runner_and_kernel() as (runner, connection):
        for cell in CELLS:
            source = f"# GET /cell\n{cell}"
            code = with_request(request_assignment(REQUEST, "python"), source, "#")
            [expected] = await execute(connection, [code], timeout=20)
            fast = await runner.run(source, source, None, request_value(REQUEST), 20)
            assert fast is not None, source
            assert comparable(fast[0]) == comparable(expected), source
            assert fast[1] is None


async def test_the_compiled_code_is_sent_once_and_reused() -> None:
    async with runner_and_kernel() as (runner, _):
        first = await runner.run("k", "n = globals().get('n', 0) + 1\nn", None, "{}", 20)
        second = await runner.run("k", "not this source", None, "{}", 20)
        assert first is not None
        assert second is not None
        assert first[0].execute_result == {"text/plain": "1"}
        assert second[0].execute_result == {"text/plain": "2"}
        assert runner.known == {"k"}


async def test_response_info_is_its_printed_text_or_its_error() -> None:
    async with runner_and_kernel() as (runner, _):
        info = "import json\nprint(json.dumps({'status': 201}))"
        ok = await runner.run("a", "'body'", info, "{}", 20)
        failing = await runner.run("b", "'body'", "raise KeyError('k')", "{}", 20)
        skipped = await runner.run("c", "1 / 0", info, "{}", 20)
        assert ok is not None
        assert failing is not None
        assert skipped is not None
        assert ok == (
            ExecutionResult("ok", execute_result={"text/plain": "'body'"}),
            ExecutionResult("ok", stdout='{"status": 201}\n'),
        )
        assert failing[1] is not None
        assert failing[1].error is not None
        assert failing[1].error[:2] == ("KeyError", "'k'")
        assert skipped[0].status == "error"
        assert skipped[1] is None


async def test_code_the_runner_cannot_compile_goes_to_the_execute_path() -> None:
    async with runner_and_kernel() as (runner, _):
        assert await runner.run("bad", "def f(:", None, "{}", 20) is None
        assert (
            await runner.run("await", "import asyncio\nawait asyncio.sleep(0)", None, "{}", 20)
            is None
        )
        assert not runner.serves("bad")
        assert runner.serves("other")


async def test_a_request_past_its_timeout_is_interruptible() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        runner = await install(connection)
        assert runner is not None
        with pytest.raises(CellTimeout):
            await runner.run("sleep", SLEEP, None, "{}", 0.5)
        await manager.interrupt_kernel(kernel_id)
        again = await runner.run("after", "'still here'", None, "{}", 20)
        assert again is not None
        assert again[0].execute_result == {"text/plain": "'still here'"}


async def test_a_kernel_restarted_without_its_runner_sends_requests_to_the_execute_path() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        runner = await install(manager.connection(kernel_id))
        assert runner is not None
        before = await runner.run("k", "print('quiet ok')", None, "{}", 20)
        await manager.restart_kernel(kernel_id)
        after = await runner.run("k", "print('quiet ok')", None, "{}", 20)
        assert before is not None
        assert before[0] == ExecutionResult("ok", stdout="quiet ok\n")
        assert after is None
        assert not runner.serves("k")


def test_only_ipython_kernels_take_the_runner() -> None:
    ipython = {"implementation": "ipython", "language_info": {"name": "python"}}
    assert is_ipython(ipython)
    assert not is_ipython({**ipython, "implementation": "xeus-python"})
    assert not is_ipython({"implementation": "ipython", "language_info": {"name": "R"}})
    assert not is_ipython({})
