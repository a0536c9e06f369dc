"""The API page: served from the package behind the token, and used in a real headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory, write_notebook
from headless import chromium, chromium_path, open_page, requested_urls

TOKEN = "page-secret"
RESPONSE = "document.querySelector('.live-responses-table tr.response')?.querySelector"
NO_CHROMIUM = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"


@pytest.fixture
def notebook_gateway(gateway_factory: GatewayFactory, tmp_path: Path) -> Gateway:
    notebook = write_notebook(
        tmp_path / "greetings.ipynb",
        '# GET /hello\nprint("hello from the kernel")',
        '# POST /echo\nimport json\nprint(json.loads(REQUEST)["body"])',
    )
    return gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        f"--auth_token={TOKEN}",
        "--base_url=/gw",
        ready_path="/hello",
    )


def test_the_page_is_behind_the_token_and_its_assets_are_in_the_package(
    notebook_gateway: Gateway,
) -> None:
    gateway = notebook_gateway
    anonymous = Gateway(gateway.process, gateway.port, gateway.log_path, base_url="/gw")

    status, headers, page = gateway.request("GET", "/_api/docs")
    refused = anonymous.request("GET", "/_api/docs")[0]
    assets = [
        content_type(anonymous.request("GET", f"/_api/docs/assets/{name}"))
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "api-page.js")
    ]

    assert (status, headers["Content-Type"], refused) == (200, "text/html; charset=UTF-8", 401)
    assert b"://" not in page  # nothing from a CDN: every URL is the gateway's own
    assert b'data-spec="/gw/_api/spec/swagger.json"' in page
    assert b'src="/gw/_api/docs/assets/swagger-ui-bundle.js"' in page
    assert [(code, kind.split(";")[0]) for code, kind in assets] == [
        (200, "text/javascript"),
        (200, "text/css"),
        (200, "text/javascript"),
    ]
    assert anonymous.request("GET", "/_api/docs/assets/index.html")[0] == 401  # not an asset


def content_type(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, str]:
    return answer[0], answer[1].get("Content-Type", "")


@pytest.mark.skipif(chromium_path() is None, reason=NO_CHROMIUM)
async def test_the_page_lists_the_endpoints_and_tries_one_in_chromium(
    notebook_gateway: Gateway, tmp_path: Path
) -> None:
    url = f"{notebook_gateway.http_url}/_api/docs?token={TOKEN}"
    async with chromium(tmp_path / "profile") as devtools:
        page = await open_page(devtools, url)
        paths = await page.wait_for(
            "Array.from(document.querySelectorAll('.opblock-summary-path'))"
            ".map(e => e.textContent.replace(/\\u200b/g, ''))",
            "the endpoints to be listed",
        )
        await page.evaluate(
            "document.querySelector('#operations-default-get_hello button').click()"
        )
        await page.wait_for("!!document.querySelector('.try-out__btn')", "the operation to open")
        await page.evaluate("document.querySelector('.try-out__btn').click()")
        await page.wait_for("!!document.querySelector('.btn.execute')", "the Execute button")
        await page.evaluate("document.querySelector('.btn.execute').click()")
        status = await page.wait_for(
            f"{RESPONSE}('.response-col_status')?.textContent", "a response"
        )
        body = await page.evaluate(f"{RESPONSE}('.response-col_description pre')?.textContent")
        urls = requested_urls(devtools)

    assert sorted(paths) == ["/echo", "/hello"]
    assert status.strip() == "200"
    assert body == "hello from the kernel\n"
    origin = f"http://127.0.0.1:{notebook_gateway.port}/gw/"
    assert [url for url in urls if not url.startswith((origin, "data:"))] == []  # no CDN
    assert f"{origin}hello" in urls  # the Try it out call
    assert json.loads(notebook_gateway.request("GET", "/_api/spec/swagger.json")[2])["paths"]


def test_websocket_mode_serves_the_page_over_its_own_spec(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(f"--auth_token={TOKEN}")

    status, _, page = gateway.request("GET", "/api/docs")

    assert status == 200
    assert b'data-spec="/api/swagger.json"' in page
    assert b'src="/api/docs/assets/api-page.js"' in page


@pytest.mark.skipif(chromium_path() is None, reason=NO_CHROMIUM)
async def test_websocket_mode_page_lists_the_kernel_api_in_chromium(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gateway = gateway_factory(f"--auth_token={TOKEN}", "--base_url=/ws")
    async with chromium(tmp_path / "profile") as devtools:
        page = await open_page(devtools, f"{gateway.http_url}/api/docs?token={TOKEN}")
        paths = await page.wait_for(
            "Array.from(document.querySelectorAll('.opblock-summary-path'))"
            ".map(e => e.textContent.replace(/\\u200b/g, ''))",
            "the kernel API to be listed",
        )

    assert {"/api/kernels", "/api/kernels/{kernel_id}", "/api/sessions"} <= set(paths)
