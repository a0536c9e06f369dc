#!/usr/bin/env python3
"""Deploy an app to a gateway with a signed request (no token needed, only deploy_key).

    export KG_DEPLOY_KEY=...
    python etc/apps/sign_deploy.py http://127.0.0.1:8888 hello etc/apps/hello.ipynb
    python etc/apps/sign_deploy.py http://127.0.0.1:8888 datasets datasets.zip
    python etc/apps/sign_deploy.py http://127.0.0.1:8888 - notebook.ipynb   # ephemeral app

The signature is HMAC-SHA256(key, "<timestamp>\\n<METHOD>\\n<path>\\n" + body), sent as
`X-KG-Signature: sha256=<hex>` with `X-KG-Timestamp: <timestamp>`; see docs/apps.md.
Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def signature(key: bytes, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The X-KG-Signature header value of one request."""
    message = f"{timestamp}\n{method}\n{path}\n".encode() + body
    return "sha256=" + hmac.new(key, message, hashlib.sha256).hexdigest()


def main(gateway: str, slug: str, file: str) -> int:
    key = os.environ["KG_DEPLOY_KEY"].encode()
    with open(file, "rb") as handle:
        body = handle.read()
    method, url = (
        ("POST", f"{gateway}/_api/apps")
        if slug == "-"
        else (
            "PUT",
            f"{gateway}/_api/apps/{slug}",
        )
    )
    path = urlsplit(url).path
    timestamp = str(int(time.time()))
    kind = "application/zip" if file.endswith(".zip") else "application/x-ipynb+json"
    headers = {
        "Content-Type": kind,
        "X-KG-Timestamp": timestamp,
        "X-KG-Signature": signature(key, timestamp, method, path, body),
    }
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as err:
        print(err.code, err.read().decode(), file=sys.stderr)
        return 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
