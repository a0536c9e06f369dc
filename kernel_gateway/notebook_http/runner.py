"""How one endpoint request runs on a kernel: its cell, then its ResponseInfo cell.

Every execute_request costs an IPython kernel a few milliseconds, so in Python kernels the
ResponseInfo cell rides on the endpoint cell's own request as a user expression, which the
kernel evaluates right after the cell succeeds and returns in its reply. The expression
calls a small function that it defines in the kernel's namespace on first use: it runs the
ResponseInfo code (IPython syntax included) with stdout captured and returns what was
printed. Other kernels, and Python kernels that ignore user expressions, get two pipelined
execute_requests instead; the results are the same.
"""

from __future__ import annotations

import ast

from ..services.kernels.connection import KernelConnection
from ..services.kernels.execution import ExecutionResult, OutputSink, execute

EXPRESSION_KEY = "kernel_gateway_response_info"
HELPER_NAME = "__kernel_gateway_response_info__"
HELPER_SOURCE = f'''
def {HELPER_NAME}(code, _compiled={{}}):
    """kernel_gateway: run a ResponseInfo cell, return what it printed."""
    import contextlib, io
    if code not in _compiled:
        shell = globals().get("get_ipython", lambda: None)()
        source = shell.transform_cell(code) if shell is not None else code
        _compiled[code] = compile(source, "<ResponseInfo>", "exec")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(_compiled[code], globals())
    return printed.getvalue()
'''


def response_info_expression(code: str) -> str:
    """A Python expression that runs ResponseInfo `code` and evaluates to its stdout."""
    define = f"(exec({HELPER_SOURCE!r}, globals()), globals()[{HELPER_NAME!r}])[1]"
    return f"(globals().get({HELPER_NAME!r}) or {define})({code!r})"


def response_info_result(result: ExecutionResult) -> ExecutionResult | None:
    """The ResponseInfo cell's result carried by the endpoint cell's reply.

    None when the reply has none: the endpoint cell failed, or the kernel ignores user
    expressions.
    """
    value = result.user_expressions.get(EXPRESSION_KEY)
    if not isinstance(value, dict):
        return None
    if value.get("status") != "ok":
        failure = (
            value.get("ename", ""),
            value.get("evalue", ""),
            tuple(value.get("traceback", ())),
        )
        return ExecutionResult(status="error", error=failure)
    text = value.get("data", {}).get("text/plain", "")
    try:
        printed = ast.literal_eval(text)  # the repr of the returned str
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        printed = text
    return ExecutionResult(status="ok", stdout=printed if isinstance(printed, str) else text)


async def run_endpoint(
    kernel: KernelConnection,
    code: str,
    response_info: str | None,
    timeout: float,
    inline_response_info: bool,
    sink: OutputSink | None = None,
) -> tuple[ExecutionResult, ExecutionResult | None]:
    """Run an endpoint's `code` and its `response_info` code; return both results.

    `inline_response_info` (Python kernels) runs both in one execute_request; `sink` takes
    the outputs of `code` as they arrive. Raises what `execute` raises: CellTimeout,
    KernelUnavailable, what the sink stops the run with.
    """
    if not response_info:
        [result] = await execute(kernel, [code], timeout, sink=sink)
        return result, None
    if not inline_response_info:
        result, separate = await execute(kernel, [code, response_info], timeout, sink=sink)
        return result, separate
    expressions = {EXPRESSION_KEY: response_info_expression(response_info)}
    [result] = await execute(kernel, [code], timeout, expressions, sink)
    info = response_info_result(result)
    if info is None and result.status == "ok":  # a kernel that ignores user expressions
        [info] = await execute(kernel, [response_info], timeout)
    return result, info
