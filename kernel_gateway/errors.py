"""Domain errors of the gateway, each carrying the HTTP status it maps to.

    GatewayError                      500
    ├── BadRequest                    400  malformed JSON, bad env, bad body
    ├── Unauthorized                  401  missing or wrong token
    ├── Forbidden                     403  listing disabled, foreign origin
    │   └── KernelLimitReached        403  max_kernels reached
    ├── NotFound                      404
    │   ├── UnknownKernel             404
    │   └── UnknownKernelSpec         404
    ├── MethodNotAllowed              405  carries the allowed methods
    ├── PayloadTooLarge               413
    ├── CellError                     500  an endpoint cell raised
    ├── RunStopped                    500  the gateway stopped a running cell (client gone,
    │   │                                  a streamed response's reader too slow)
    │   ├── RunNotStarted             500  stopped before its code was sent (kernel untouched)
    │   └── ResponseTooLarge          500  the response passed max_response_size
    ├── KernelStartFailed             500  a kernel's launch failed, or it never answered
    ├── UpstreamError                 502  a proxied server is unreachable or broke the exchange
    ├── KernelUnavailable             503  no kernel (dead, queue wait over)
    │   └── KernelQueueFull           503  the kernel's message queue is full
    ├── CellTimeout                   504  an endpoint ran past request_timeout
    ├── UpstreamTimeout               504  a proxied server did not answer in time
    └── StartupError                  (not HTTP) configuration or seeding failed at start-up

Handlers raise these; the base handler's `write_error` turns them into JSON
`{"reason", "message"}` with `status_code`.
"""

from __future__ import annotations


def quoted(value: str, limit: int = 100) -> str:
    """`value` for a message: as it is when short and printable, else its repr, cut short."""
    if len(value) <= limit and value.isprintable():
        return value
    text = repr(value[:limit])
    return text + "..." if len(value) > limit else text


class GatewayError(Exception):
    """Base of every error the gateway reports to a client."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(GatewayError):
    status_code = 400


class Unauthorized(GatewayError):
    status_code = 401


class Forbidden(GatewayError):
    status_code = 403


class KernelLimitReached(Forbidden):
    """Starting another kernel would pass max_kernels."""


class NotFound(GatewayError):
    status_code = 404


class UnknownKernel(NotFound):
    def __init__(self, kernel_id: str) -> None:
        super().__init__(f"Kernel does not exist: {quoted(kernel_id)}")
        self.kernel_id = kernel_id


class UnknownKernelSpec(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"No such kernel: {quoted(name)}")
        self.name = name


class MethodNotAllowed(GatewayError):
    status_code = 405

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class PayloadTooLarge(GatewayError):
    status_code = 413


class CellError(GatewayError):
    """A cell raised: the message is `ename: evalue`, or says which cell and line (see
    services/kernels/failures.py)."""

    status_code = 500

    def __init__(
        self,
        ename: str,
        evalue: str,
        traceback: list[str] | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(message or f"{ename}: {evalue}")
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback or []


class RunStopped(GatewayError):
    """The gateway stopped a request's cell while it ran: its client went away, or the reader
    of its streamed response fell too far behind. The kernel is interrupted before it serves
    again."""


class RunNotStarted(RunStopped):
    """The gateway stopped a request before its code reached the kernel (its client went away
    while it waited): the kernel is left as it was, not interrupted."""


class ResponseTooLarge(RunStopped):
    """A response's body passed max_response_size; the cell is interrupted."""


class KernelStartFailed(GatewayError):
    """A kernel could not be launched, or never answered once launched."""


class KernelUnavailable(GatewayError):
    status_code = 503

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KernelQueueFull(KernelUnavailable):
    """The kernel is not reading messages as fast as they are sent: its queue is full.

    Raised by `KernelConnection.send` instead of blocking the event loop until it drains.
    """


class CellTimeout(GatewayError):
    status_code = 504


class UpstreamError(GatewayError):
    """A proxied server refused the connection, closed it early or answered garbage."""

    status_code = 502


class UpstreamTimeout(GatewayError):
    """A proxied server did not accept the connection or answer within the proxy timeout."""

    status_code = 504


class StartupError(Exception):
    """Start-up cannot go on: bad option, missing seed, failing seed cell."""
