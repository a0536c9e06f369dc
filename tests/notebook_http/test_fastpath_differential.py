"""The fast path and the execute path give the same answers, byte for byte.

Every example notebook of etc/api_examples, and a corpus of endpoint cells, is served twice
(KG_FAST_PATH on and off); the same requests, in the same order, go to both, and their status,
headers (less Date) and bodies must be equal. The fast gateway must say it took the fast path.
"""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import pytest
from conftest import EXAMPLES, Gateway, GatewayFactory, wait_until_serving, write_notebook

SWAGGER_PARSER = "--NotebookHTTPPersonality.cell_parser=kernel_gateway.notebook_http.swagger.parser"
FAST_LINE = "requests take the fast path"
PNG = (  # a 1x1 PNG, base64
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
    "hwGA60e6kgAAAABJRU5ErkJggg=="
)
Request = tuple[str, str, bytes | None, dict[str, str]]
Answer = tuple[int, list[tuple[str, str]], bytes]

CORPUS = [
    f"import json, os, sys, time\nPNG = {PNG!r}",
    "# GET /print\nprint('hello')\nprint('world')",
    "# GET /stderr\nprint('out')\nprint('err', file=sys.stderr)",
    "# GET /png\nfrom IPython.display import Image, display\nimport base64\n"
    "display(Image(data=base64.b64decode(PNG)))",
    "# ResponseInfo GET /png\nprint(json.dumps({'headers': {'Content-Type': 'image/png'}}))",
    "# GET /html\nfrom IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))",
    "# ResponseInfo GET /html\nprint(json.dumps({'headers': {'Content-Type': 'text/html'}}))",
    "# GET /int\n6 * 7",
    "# GET /dict\n{'a': [1, 2], 'b': None, 'c': 'é'}",
    "# GET /str\n'text'",
    "# GET /list\n[1, 'two', 3.0]",
    "# GET /none\nNone",
    "# GET /semicolon\n1 + 1;",
    "# GET /assigned\nvalue = 3\nvalue * 2",
    "# GET /raise\nprint('before')\nraise ValueError('bad value')",
    "# GET /keyerror\nx = 1\n\n{}['missing']",
    "# GET /syntax\ndef broken(:\n    pass",
    "# GET /time\nimport io, contextlib\nbuf = io.StringIO()\n"
    "with contextlib.redirect_stdout(buf):\n"
    "    %time y = 6 * 7\nprint('timed', y, 'Wall time' in buf.getvalue())",
    "# GET /capture\n%%capture out\nprint('hidden')",
    "# GET /magic\n%env KG_DIFF=yes\n%env KG_DIFF",
    "# GET /shell\n!echo shell out",
    "# GET /request\nprint(REQUEST)",
    "# POST /request\nprint(REQUEST)",
    "# PUT /request\njson.loads(REQUEST)['body']",
    "# POST /info\nreq = json.loads(REQUEST)\nprint(json.dumps(req['body']))",
    "# ResponseInfo POST /info\nprint(json.dumps({'status': 201, 'headers': "
    "{'Content-Type': 'application/json', 'X-Custom': ['a', 'b'], 'Location': '/info/1'}}))",
    "# GET /badinfo\nprint('body')",
    "# ResponseInfo GET /badinfo\nprint('not json')",
    "# GET /nocontent\nprint('dropped')",
    "# ResponseInfo GET /nocontent\nprint(json.dumps({'status': 204}))",
    "# GET /unicode\nprint('héllo ✓ 日本 🚀')\n'ünïcode ✓'",
    "# GET /big\nprint('x' * (10 * 1024 * 1024))",
    "# GET /items/:id\nint(json.loads(REQUEST)['path']['id']) ** 2",
    "# GET /sleep\ntime.sleep(30)",
    "# GET /exit\nos._exit(1)",
]
BODIES: list[tuple[bytes | None, dict[str, str]]] = [
    (None, {}),
    (b'{"name": "pen", "n": [1, 2]}', {"Content-Type": "application/json"}),
    (b"a=1&b=two&b=3", {"Content-Type": "application/x-www-form-urlencoded"}),
    (
        b'--XX\r\nContent-Disposition: form-data; name="f"\r\n\r\nvalue\r\n--XX--\r\n',
        {"Content-Type": "multipart/form-data; boundary=XX"},
    ),
    ("plain text é".encode(), {"Content-Type": "text/plain; charset=utf-8"}),
    (bytes(range(256)), {"Content-Type": "application/octet-stream"}),
    (b"not json", {"Content-Type": "application/json"}),
]
CORPUS_REQUESTS: list[Request] = [
    *[("GET", path, None, {}) for path in re.findall(r"# GET (/\w+)\n", "\n".join(CORPUS))],
    ("GET", "/items/7", None, {}),
    ("GET", "/items/x", None, {}),
    ("GET", "/request?q=1&q=2&r=%C3%A9", None, {"X-Extra": "yes"}),
    *[("POST", "/request", body, headers) for body, headers in BODIES],
    *[("PUT", "/request", body, headers) for body, headers in BODIES],
    *[("POST", "/info", body, headers) for body, headers in BODIES[:2]],
    ("GET", "/print", None, {}),  # after /sleep timed out and /exit killed a kernel
    ("GET", "/int", None, {}),
]
EXAMPLE_REQUESTS: dict[str, tuple[tuple[str, ...], list[Request]]] = {
    "hello": ((), [("GET", "/hello", None, {}), ("GET", "/hello/Ada", None, {})]),
    "params": (
        (),
        [
            ("GET", "/add/2/40", None, {}),
            ("GET", "/add/2/forty", None, {}),
            ("GET", "/greet/fr/Ada?punct=!", None, {}),
            ("GET", "/search?q=kernels&tag=a&tag=b", None, {}),
        ],
    ),
    "crud": (
        (),
        [
            ("GET", "/items", None, {}),
            ("POST", "/items", b'{"name": "pen"}', {"Content-Type": "application/json"}),
            ("POST", "/items", b"[1]", {"Content-Type": "application/json"}),
            ("GET", "/items", None, {}),
            ("DELETE", "/items/1", None, {}),
            ("DELETE", "/items/1", None, {}),
        ],
    ),
    "picture": ((), [("GET", "/picture", None, {})]),
    "errors": (
        (),
        [
            ("GET", "/teapot", None, {}),
            ("GET", "/fail", None, {}),
            ("GET", "/maybe?n=3", None, {}),
            ("GET", "/maybe", None, {}),
            ("POST", "/created", None, {}),
        ],
    ),
    "openapi": (
        (SWAGGER_PARSER,),
        [
            ("GET", "/pets", None, {}),
            ("POST", "/pets", b'{"name": "Rex"}', {"Content-Type": "application/json"}),
            ("GET", "/pets", None, {}),
        ],
    ),
}


def send(gateway: Gateway, request: Request) -> Answer:
    """One request; its status, every header but Date (in order, repeats kept), its body."""
    method, path, body, headers = request
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    try:
        # the port differs and REQUEST shows Host; a request id of our own comes back as sent
        same = {"Host": "gateway.test", "X-Request-Id": f"diff-{method}-{len(path)}", **headers}
        connection.request(method, path, body=body, headers=same)
        response = connection.getresponse()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() != "date"]
        return response.status, kept, response.read()
    finally:
        connection.close()


def both_paths(start: GatewayFactory, ready: str, *argv: str) -> tuple[Gateway, Gateway]:
    """The same notebook served with the fast path on and off."""
    fast = start(*argv, env={"KG_FAST_PATH": "true"}, wait=False)
    slow = start(*argv, env={"KG_FAST_PATH": "false"}, wait=False)
    for gateway in (fast, slow):
        wait_until_serving(gateway, ready)
    assert FAST_LINE in fast.log()
    assert "requests take the execute path (fast_path is off)" in slow.log()
    return fast, slow


def assert_same_answers(fast: Gateway, slow: Gateway, requests: list[Request]) -> None:
    for request in requests:
        fast_answer, slow_answer = send(fast, request), send(slow, request)
        assert fast_answer == slow_answer, request[:2]


@pytest.mark.parametrize("name", sorted(EXAMPLE_REQUESTS))
def test_each_example_answers_the_same(gateway_factory: GatewayFactory, name: str) -> None:
    extra, requests = EXAMPLE_REQUESTS[name]
    notebook = f"--seed_uri={EXAMPLES / name}.ipynb"
    fast, slow = both_paths(
        gateway_factory, requests[0][1], "--api=notebook-http", notebook, *extra
    )
    assert_same_answers(fast, slow, requests)


def test_the_corpus_answers_the_same(gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "corpus.ipynb", *CORPUS)
    argv = (
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        "--NotebookHTTPPersonality.request_timeout=3",
    )
    fast, slow = both_paths(gateway_factory, "/int", *argv)
    assert_same_answers(fast, slow, CORPUS_REQUESTS)
    assert send(fast, ("GET", "/sleep", None, {}))[0] == 504
    fallbacks = re.findall(r"Endpoint (.*) takes the execute path", fast.log())
    assert fallbacks == ["17 GET /syntax"]  # the only cell the runner can't compile
    assert "has no request runner" not in fast.log()


def test_a_kernel_refusing_the_runner_serves_on_the_execute_path(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    cells = ("get_ipython().kernel.comm_manager = None", "# GET /int\n6 * 7")
    notebook = write_notebook(tmp_path / "refusing.ipynb", *cells)
    gateway = gateway_factory("--api=notebook-http", f"--seed_uri={notebook}", ready_path="/int")
    assert "the fast path runner failed: AttributeError" in gateway.log()
    assert "requests take the execute path (no IPython kernel took the request runner)" in (
        gateway.log()
    )
    assert gateway.request("GET", "/int")[::2] == (200, b'{"text/plain": "42"}')


def test_a_kernel_restarted_after_a_timeout_gets_its_runner_again(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    cells = (
        "import signal, time",
        "# GET /stuck\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)",
        "# GET /int\n6 * 7",
    )
    notebook = write_notebook(tmp_path / "stuck.ipynb", *cells)
    argv = (
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        "--NotebookHTTPPersonality.request_timeout=1",
    )
    gateway = gateway_factory(*argv, env={"KG_FAST_PATH": "1"}, ready_path="/int")
    assert gateway.request("GET", "/stuck")[0] == 504
    assert gateway.request("GET", "/int")[::2] == (200, b'{"text/plain": "42"}')  # waits for it
    assert "ignored the interrupt; restarting it" in gateway.log()
    assert "has no request runner" not in gateway.log()
    assert "takes the execute path" not in gateway.log()
