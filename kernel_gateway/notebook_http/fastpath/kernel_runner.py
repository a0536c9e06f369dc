# ruff: noqa
# mypy: ignore-errors
"""kernel_gateway's request runner, run INSIDE an IPython kernel (sent as source at seed time).

It registers the comm target `kernel_gateway.fastpath`. The gateway opens one comm and sends
one comm_msg per request: {"key", "request", "source"?, "info"?, "hold"?} ("hold": the
output is read at the end, so the streams may hold it until then). The first message of a key
carries the endpoint's source (and ResponseInfo source); both are transformed by IPython's own
input transformers and AST transformers and compiled once, the last expression apart in
"single" mode so that its value goes through IPython's displayhook (an execute_result). Each
request sets REQUEST, runs the code through the shell's own `run_code` (the error report is the
one of a cell), then the ResponseInfo code with stdout captured. The kernel's idle status for
the comm_msg says the request is over. A request that went well and has no ResponseInfo gets
no reply (each iopub message costs the kernel CPU); any other gets one reply on the comm before
the idle status: {"status": "ok", "info"} (with the ResponseInfo result), {"status": "error"}
(the code raised), {"status": "unknown"} (send the source), {"status": "unprepared"} (use the
execute path for this key), {"status": "failed", "message"} (the runner itself broke). The
gateway tells a kernel process without the runner (restarted, not prepared again) by the
session id in the headers of its messages, which every kernel process draws afresh.
"""


def __kernel_gateway_install_fastpath__(target_name, version):
    import ast
    import contextlib
    import io
    import sys

    from IPython import get_ipython
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    CHUNK = 1 << 20  # characters of a held stream's message, about, at most
    shell = get_ipython()
    kernel = shell.kernel
    prepared = {}
    unprepared = object()

    def transform(source, number):
        """Source -> (exec code or None, single code or None), as run_cell would run it."""
        raw = source
        cell = shell.transform_cell(raw)
        name = shell.compile.cache(cell, number, raw_code=raw)
        tree = shell.transform_ast(shell.compile.ast_parse(cell, filename=name))
        body, last = tree.body, None
        if body and isinstance(body[-1], ast.Expr):
            body, last = body[:-1], body[-1]
        main = shell.compile(ast.Module(body, []), name, "exec") if body else None
        single = shell.compile(ast.Interactive([last]), name, "single") if last else None
        return raw, main, single

    def prepare(key, source, info):
        if shell.ast_node_interactivity != "last_expr":
            prepared[key] = unprepared
            return
        try:
            number = shell.execution_count
            code = transform(source, number)
            info_code = None
            if info is not None:
                info_cell = shell.transform_cell(info)
                info_code = compile(info_cell, "<ResponseInfo>", "exec")
        except (SyntaxError, ValueError, TypeError, OverflowError, MemoryError):
            prepared[key] = unprepared
            return
        prepared[key] = (code, info_code)

    def run_code(code, result):
        """The shell's own run_code (async in signature only when async_ is False)."""
        step = shell.run_code(code, result)
        try:
            step.send(None)
        except StopIteration as stop:
            return stop.value
        step.close()
        raise RuntimeError("run_code awaited something")

    def run(code):
        raw, main, single = code
        result = ExecutionResult(ExecutionInfo(raw, False, False, True, None, transformed_cell=raw))
        shell.displayhook.exec_result = result
        try:
            with shell.builtin_trap, shell.display_trap:
                for part in (main, single):
                    if part is not None and run_code(part, result):
                        return False
        finally:
            shell.displayhook.exec_result = None
        return True

    def run_info(info_code):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(info_code, shell.user_global_ns, shell.user_ns)
        except BaseException:
            etype, evalue, _ = sys.exc_info()
            trace = shell.InteractiveTB.get_exception_only(etype, evalue)
            return {
                "status": "error",
                "ename": etype.__name__,
                "evalue": str(evalue),
                "traceback": trace,
            }
        return {"status": "ok", "stdout": printed.getvalue()}

    @contextlib.contextmanager
    def held(stream):
        """While a request whose answer is read at its end runs, `stream` (ipykernel 7's
        OutStream; private names, and nothing changes where they are missing) holds what it
        is written until the request's end, in messages of about CHUNK characters at most.

        A flush is marked pending, so a print schedules no flush timer on the IO thread
        (ipykernel flushes stdout and stderr itself once the request is handled, which clears
        the mark); past CHUNK characters the stream is flushed, a long write in slices: the
        gateway holds a message whole while it reads it, and a cell that prints without end
        still sends its output as it goes (max_response_size stops it)."""
        if getattr(stream, "_flush_pending", True) or not hasattr(stream, "_schedule_flush"):
            yield
            return
        write = stream.write
        pending = 0

        def sliced(text):
            nonlocal pending
            if pending + len(text) <= CHUNK:
                pending += len(text)
                return write(text)
            for start in range(0, len(text), CHUNK):
                piece = text[start : start + CHUNK]
                write(piece)
                pending += len(piece)
                if pending >= CHUNK:
                    pending = 0
                    stream.flush()
                    stream._flush_pending = True
            return len(text)

        stream._flush_pending = True
        stream.write = sliced
        try:
            yield
        finally:
            vars(stream).pop("write", None)

    def handle(comm, data):
        key = data["key"]
        if "source" in data:
            prepare(key, data["source"], data.get("info"))
        entry = prepared.get(key)
        if entry is None or entry is unprepared:
            comm.send({"status": "unknown" if entry is None else "unprepared"})
            return
        code, info_code = entry
        shell.user_ns["REQUEST"] = data["request"]
        with contextlib.ExitStack() as holding:
            if data.get("hold"):
                holding.enter_context(held(sys.stdout))
                holding.enter_context(held(sys.stderr))
            ran = run(code)
        if not ran:  # as an execute_reply's status (a UsageError sends no error)
            comm.send({"status": "error"})
        elif info_code is not None:
            comm.send({"status": "ok", "info": run_info(info_code)})

    def opened(comm, message):
        def on_msg(msg):
            try:
                handle(comm, msg["content"]["data"])
            except Exception as err:  # the runner broke: say so rather than stay silent
                comm.send({"status": "failed", "message": f"{type(err).__name__}: {err}"})

        comm.on_msg(on_msg)
        comm.send({"status": "ready", "version": version})

    kernel.comm_manager.register_target(target_name, opened)
