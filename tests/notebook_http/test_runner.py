"""An endpoint's cell and its ResponseInfo cell: one execute_request in Python kernels, or two."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from kernel_helpers import running_manager

from kernel_gateway.notebook_http.runner import (
    EXPRESSION_KEY,
    HELPER_NAME,
    response_info_expression,
    response_info_result,
    run_endpoint,
)
from kernel_gateway.services.kernels.execution import ExecutionResult

INFO = 'import json\nprint(json.dumps({"status": int(REQUEST), "headers": {"X-Seen": seen}}))'


def test_the_expression_runs_the_code_and_evaluates_to_what_it_printed() -> None:
    namespace: dict[str, Any] = {"REQUEST": "201", "seen": "q\"u'o\\te"}
    printed = eval(response_info_expression(INFO), namespace)
    assert json.loads(printed) == {"status": 201, "headers": {"X-Seen": "q\"u'o\\te"}}
    helper = namespace[HELPER_NAME]
    namespace["REQUEST"] = "202"
    assert json.loads(eval(response_info_expression(INFO), namespace))["status"] == 202
    assert namespace[HELPER_NAME] is helper  # defined once, then reused


def test_the_expression_leaves_stdout_as_it_was_when_the_code_raises() -> None:
    stdout = sys.stdout
    with pytest.raises(ZeroDivisionError):
        eval(response_info_expression("print('partial')\n1 / 0"), {})
    assert sys.stdout is stdout


def reply(value: Any) -> ExecutionResult:
    return ExecutionResult("ok", user_expressions={EXPRESSION_KEY: value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"status": "ok", "data": {"text/plain": repr('{"status": 201}\n')}},
            ExecutionResult("ok", stdout='{"status": 201}\n'),
        ),
        (
            {"status": "error", "ename": "KeyError", "evalue": "'x'", "traceback": ["tb"]},
            ExecutionResult("error", error=("KeyError", "'x'", ("tb",))),
        ),
        (  # a kernel whose text/plain of a str is not its repr: taken as it is
            {"status": "ok", "data": {"text/plain": '{"status": 202}'}},
            ExecutionResult("ok", stdout='{"status": 202}'),
        ),
        (  # a text/plain that is a literal of another type
            {"status": "ok", "data": {"text/plain": "42"}},
            ExecutionResult("ok", stdout="42"),
        ),
    ],
)
def test_the_response_info_result_is_read_from_the_reply(
    value: dict[str, Any], expected: ExecutionResult
) -> None:
    assert response_info_result(reply(value)) == expected


def test_a_reply_without_the_expression_has_no_response_info_result() -> None:
    assert response_info_result(ExecutionResult("ok")) is None
    assert response_info_result(ExecutionResult("error", error=("E", "v", ()))) is None


ENDPOINT = 'seen = "%s"\nprint("body", REQUEST)'
CASES = [
    # (REQUEST, ResponseInfo code)
    ("201", INFO),
    ("200", "%%capture ignored\nprint('captured by the magic')"),  # IPython syntax works
    ("200", r"print('é \\ \" \n', 'tab\t', end='')"),
    ("200", "raise KeyError('no info')"),
    ("200", None),
]


@pytest.mark.parametrize(("request_value", "info"), CASES)
async def test_one_execute_gives_what_two_give(request_value: str, info: str | None) -> None:
    async with running_manager() as manager:
        kernel = manager.connection(await manager.start_kernel())
        code = f"REQUEST = {request_value!r}\n" + ENDPOINT % "x"

        inline = await run_endpoint(kernel, code, info, 20, inline_response_info=True)
        separate = await run_endpoint(kernel, code, info, 20, inline_response_info=False)

    (result, info_result), (expected, expected_info) = inline, separate
    assert (result.status, result.stdout) == (expected.status, expected.stdout)
    assert result.stdout == f"body {request_value}\n"
    if expected_info is None:
        assert info_result is None
    elif expected_info.error:
        assert info_result is not None
        assert info_result.error is not None
        assert info_result.error[:2] == expected_info.error[:2] == ("KeyError", "'no info'")
    else:
        assert info_result == ExecutionResult("ok", stdout=expected_info.stdout)


async def test_a_failing_endpoint_cell_skips_its_response_info_cell() -> None:
    async with running_manager() as manager:
        kernel = manager.connection(await manager.start_kernel())
        info = "print('ran'); ran = True"

        result, info_result = await run_endpoint(kernel, "1 / 0", info, 20, True)
        check, _ = await run_endpoint(kernel, "print('ran' in globals())", None, 20, True)

    assert result.error is not None
    assert result.error[0] == "ZeroDivisionError"
    assert info_result is None
    assert check.stdout == "False\n"
