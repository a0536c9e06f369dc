"""Manual check: JupyterLab in headless Chromium against our kernel gateway.

Starts the gateway and ``jupyter lab --gateway-url=...`` (jupyter_server's gateway client), then
drives the UI: new notebook, run cells, interrupt (Kernel menu and toolbar), input() via the stdin
box, HTML output, restart from the Kernel menu (no "died" dialog), kill -9 of the kernel (the
"Kernel Restarting" dialog, then a usable kernel), shut down, a console, and kill -9 under the
console. Afterwards it stops both servers and reports any kernel process left behind. It prints
one OK/FAIL line per step and a summary, and exits 0 only if every step passed.

Not collected by pytest (CI has no browser). It needs Debian's ``chromium`` (/usr/bin/chromium,
used directly: no ``playwright install``) and a virtualenv with ``jupyterlab`` and ``playwright``:

    python3 -m venv /tmp/lab/venv && /tmp/lab/venv/bin/pip install jupyterlab playwright
    /tmp/lab/venv/bin/python tests/interop/jupyterlab_in_a_browser.py --gw-port 9301 --lab-port 9302

Logs (gateway, lab, websocket frames) and one screenshot per step go to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

from playwright.sync_api import Locator, Page, WebSocket, sync_playwright

Result = tuple[str, str, str]  # step name, "OK" or "FAIL", detail
CUR = ".lm-DockPanel-widget:not(.lm-mod-hidden)"  # the visible main-area tab
# Record every dialog title and notification toast that ever appears.
SEEN_JS = """
window.__seen = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.jp-Dialog-header, .Toastify__toast-body')) {
    if (!el.__kg) { el.__kg = 1;
      setTimeout(() => window.__seen.push(el.textContent.trim().slice(0, 120)), 300); }
  }
}).observe(document, {childList: true, subtree: true});
"""


def wait_http(url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not up after {timeout}s")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kernel_pids(root: int) -> list[int]:
    """The ipykernel processes among the descendants of `root`."""
    kids: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return [p for p in out if "ipykernel" in cmdline(p)]


def wait_for(cond: Callable[[], object], timeout: float) -> None:
    end = time.time() + timeout
    while not cond() and time.time() < end:
        time.sleep(0.5)


def watch_ws(ws: WebSocket, events: list[str], log: IO[str]) -> None:
    """Log each kernel websocket frame (channel, msg_type, state) and each close."""
    kid = ws.url.split("/api/kernels/")[-1][:8]

    def frame(direction: str, data: str | bytes) -> None:
        try:
            if isinstance(data, bytes) and not data.startswith(b"{"):
                # v1.kernel.websocket.jupyter.org: n, n offsets, then channel/header/.../content
                n = int.from_bytes(data[:8], "little")
                off = [int.from_bytes(data[8 + 8 * i : 16 + 8 * i], "little") for i in range(n)]
                part = [data[off[i] : off[i + 1]] for i in range(n - 1)]
                m = {"channel": part[0].decode(), "header": json.loads(part[1])}
                m["content"] = json.loads(part[4])
            else:
                m = json.loads(data)
            extra = m["content"].get("execution_state") or m["content"].get("status") or ""
            line = f"{m['channel']:7} {m['header']['msg_type']} {extra}"
        except Exception:
            line = f"<{len(data)} bytes, not JSON>"
        log.write(f"{time.strftime('%H:%M:%S')} {kid} {direction} {line}\n")
        log.flush()

    ws.on("framesent", lambda d: frame(">>", d))
    ws.on("framereceived", lambda d: frame("<<", d))
    ws.on("close", lambda _: events.append(f"ws closed {kid} at {time.strftime('%H:%M:%S')}"))


class Lab:
    """The UI steps, run against one JupyterLab page whose kernels live under `gw_pid`."""

    def __init__(
        self, page: Page, gw_pid: int, shots: Path, tag: str, results: list[Result]
    ) -> None:
        self.page, self.gw_pid, self.shots, self.tag = page, gw_pid, shots, tag
        self.results = results

    def shot(self, name: str) -> None:
        path = self.shots / f"{self.tag}-{len(self.results):02d}-{name}.png"
        self.page.screenshot(path=str(path))

    def step(self, name: str, fn: Callable[[], object]) -> None:
        t0 = time.time()
        try:
            res, detail = "OK", str(fn() or "")
        except Exception as e:
            res, detail = "FAIL", f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"
        if dialogs := self.page.evaluate("window.__seen.splice(0)"):
            detail += f" | dialogs/toasts: {dialogs}"
        self.results.append((name, res, detail))
        print(f"[{res:4}] {name} ({time.time() - t0:.1f}s) {detail}", flush=True)
        self.shot(re.sub(r"\W+", "_", name))

    def kernels(self) -> list[int]:
        return kernel_pids(self.gw_pid)

    def one_kernel(self) -> int:
        pids = self.kernels()
        if len(pids) != 1:
            raise AssertionError(f"expected one kernel process, found {pids}")
        return pids[0]

    def menu(self, top: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}")).first.click()

    def wait_idle(self, timeout: float = 60_000) -> str:
        ind = f"{CUR} .jp-Notebook-ExecutionIndicator"
        self.page.locator(f"{ind}[data-status='idle']").wait_for(timeout=timeout)
        return f"indicator={self.page.locator(ind).get_attribute('data-status')}"

    def type_code(self, editor: Locator, code: str) -> None:
        editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)

    def run_cell(self, code: str, expect: str = "", timeout: float = 30_000) -> Locator:
        """Type `code` into the notebook's last cell, Shift+Enter, wait for `expect` in output."""
        cells = self.page.locator(f"{CUR} .jp-Notebook .jp-CodeCell")
        cell = cells.nth(cells.count() - 1)  # fixed index: Shift+Enter appends a new last cell
        self.type_code(cell.locator(".cm-content"), code)
        self.page.keyboard.press("Shift+Enter")
        if expect:
            out = cell.locator(".jp-OutputArea-output", has_text=expect)
            out.first.wait_for(timeout=timeout)
        return cell

    def console_run(self, code: str, expect: str, timeout: float = 30_000) -> None:
        self.type_code(self.page.locator(f"{CUR} .jp-CodeConsole-promptCell .cm-content"), code)
        self.page.keyboard.press("Shift+Enter")
        out = f"{CUR} .jp-CodeConsole-content .jp-OutputArea-output"
        self.page.locator(out, has_text=expect).last.wait_for(timeout=timeout)

    def new_notebook(self) -> str:
        cards = self.page.locator(".jp-LauncherCard[data-category='Notebook']")
        names = cards.all_inner_texts()
        cards.first.click()
        self.page.locator(".jp-NotebookPanel").wait_for()
        wait_for(self.kernels, 60)
        status = self.page.locator(".jp-StatusBar-Widget", has_text="| Idle")
        status.first.wait_for(timeout=60_000)
        return f"cards={names} {self.wait_idle()} kernels={self.kernels()}"

    def interrupt(self, how: str) -> str:
        cell = self.run_cell("import time; time.sleep(15); 'done'")
        busy = f"{CUR} .jp-Notebook-ExecutionIndicator[data-status='busy']"
        self.page.locator(busy).first.wait_for(timeout=10_000)
        time.sleep(1)
        if how == "menu":
            self.menu("Kernel", "Interrupt Kernel")
        else:
            self.page.locator(f"{CUR} jp-button[data-command='notebook:interrupt-kernel']").click()
        out = cell.locator(".jp-OutputArea-output", has_text="KeyboardInterrupt")
        out.wait_for(timeout=10_000)
        return self.wait_idle(15_000)

    def stdin(self) -> str:
        cell = self.run_cell("name = input('name?'); print('hello', name)")
        box = cell.locator(".jp-Stdin-input")
        box.wait_for(timeout=15_000)
        prompt = cell.locator(".jp-Stdin-prompt").inner_text()
        box.fill("ada")
        box.press("Enter")
        cell.locator(".jp-OutputArea-output", has_text="hello ada").wait_for(timeout=15_000)
        return f"prompt={prompt!r}"

    def html(self) -> None:
        cell = self.run_cell("from IPython.display import HTML; HTML('<b>x</b>')")
        cell.locator(".jp-RenderedHTMLCommon b", has_text="x").wait_for(timeout=15_000)

    def restart(self) -> str:
        self.run_cell("x = 1; x", "1")
        before = self.kernels()
        self.page.evaluate("window.__seen.splice(0)")
        self.menu("Kernel", "Restart Kernel…")
        self.page.locator(".jp-Dialog .jp-mod-accept", has_text="Restart").click()
        time.sleep(4)  # leave room for a wrong "Kernel Restarting"/"died" dialog to appear
        idle = self.wait_idle()
        seen = self.page.evaluate("window.__seen.slice(0)")
        bad = [d for d in seen if re.search(r"Restarting|died|Dead|Error", d)]
        self.run_cell("x", "NameError")
        if bad:
            raise AssertionError(f"unexpected dialog after manual restart: {bad}")
        return f"{idle} pids {before} -> {self.kernels()}"

    def status(self) -> str:
        bar = self.page.locator(".jp-StatusBar-Widget", has_text="|").first.inner_text()
        return f"{self.wait_idle()} statusbar={bar.replace(chr(10), ' ')}"

    def kill9_notebook(self) -> str:
        pid = self.one_kernel()
        self.run_cell("y = 5; y", "5")
        os.kill(pid, signal.SIGKILL)
        dialog = self.page.locator(".jp-Dialog-header", has_text="Kernel Restarting")
        dialog.wait_for(timeout=30_000)
        self.shot("kill9_dialog")
        self.page.locator(".jp-Dialog .jp-mod-accept").click()
        idle = self.wait_idle()
        self.run_cell("y", "NameError", 60_000)
        self.run_cell("'alive' + str(2+2)", "alive4", 60_000)
        return f"{idle} pid {pid} -> {self.kernels()}"

    def shutdown(self) -> str:
        self.menu("Kernel", "Shut Down Kernel")
        dlg = self.page.locator(".jp-Dialog .jp-mod-accept")
        if dlg.count():
            dlg.click()
        wait_for(lambda: not self.kernels(), 20)
        if left := self.kernels():
            raise AssertionError(f"kernel process still running: {left}")
        ind = self.page.locator(".jp-Notebook-ExecutionIndicator").first
        return f"indicator={ind.get_attribute('data-status')}"

    def console(self) -> str:
        self.menu("File", "New Launcher")
        self.page.locator(f"{CUR} .jp-LauncherCard[data-category='Console']").first.click()
        self.page.locator(".jp-CodeConsole").wait_for()
        # Wait for the banner: code run before it may be dropped by JupyterLab itself (seen
        # once in three runs: the browser never sent the execute_request, though the
        # console's websocket had its kernel_info_reply).
        self.page.locator(f"{CUR} .jp-CodeConsole-banner").wait_for(timeout=60_000)
        self.console_run("1+1", "2", 30_000)
        return f"kernels={self.kernels()}"

    def kill9_console(self) -> str:
        pid = self.one_kernel()
        banners = self.page.locator(f"{CUR} .jp-CodeConsole-banner")
        n = banners.count()
        os.kill(pid, signal.SIGKILL)
        # a console shows no dialog; it prints a fresh banner once the kernel is back
        banners.nth(n).wait_for(timeout=60_000)
        self.console_run("'alive' + str(2+2)", "alive4", 60_000)
        return f"pid {pid} -> {self.kernels()}"

    def run_all(self, url: str) -> None:
        def open_lab() -> None:
            self.page.goto(url)
            self.page.locator(".jp-Launcher").wait_for(timeout=90_000)

        self.step("open lab + launcher", open_lab)
        no = self.page.locator(".Toastify__toast button", has_text=re.compile("^No$"))
        with contextlib.suppress(Exception):  # the "Jupyter news?" toast
            no.wait_for(timeout=5_000)
            no.click()
        self.step("new notebook, kernel idle", self.new_notebook)
        self.step("1+1 -> 2", lambda: self.run_cell("1+1", "2") and None)
        self.step("print('hi')", lambda: self.run_cell("print('hi')", "hi") and None)
        self.step("interrupt via Kernel menu", lambda: self.interrupt("menu"))
        self.step("interrupt via toolbar", lambda: self.interrupt("toolbar"))
        self.step("input() via stdin box", self.stdin)
        self.step("HTML display", self.html)
        self.step("restart (Kernel menu) resets state, no died dialog", self.restart)
        self.step("status indicator idle", self.status)
        name = "notebook: kill -9 kernel -> Kernel Restarting dialog, usable again"
        self.step(name, self.kill9_notebook)
        self.step("shut down kernel", self.shutdown)
        self.step("console 1+1", self.console)
        self.step("console: kill -9 kernel -> new banner, usable again", self.kill9_console)


def stop(proc: subprocess.Popen[bytes], name: str, notes: list[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        notes.append(f"{name} did not stop on SIGTERM in 30s")
        proc.kill()
        proc.wait()


def main(a: argparse.Namespace) -> int:
    out = Path(a.out or tempfile.mkdtemp(prefix="jupyterlab-in-a-browser-"))
    print(f"logs and screenshots: {out}", flush=True)
    nb, state, shots = out / "nb", out / f"labstate-{a.tag}", out / "shots"
    for d in (nb, state, shots):
        d.mkdir(parents=True, exist_ok=True)
    gw_log, lab_log = out / f"{a.tag}-gw.log", out / f"{a.tag}-lab.log"
    gw_url = f"http://127.0.0.1:{a.gw_port}"
    gw_args = [str(a.gateway), "--ip=127.0.0.1", f"--port={a.gw_port}", *a.gw_arg]
    lab_args = [str(a.jupyter), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1"]
    lab_args += [f"--port={a.lab_port}", f"--ServerApp.token={a.lab_token}"]
    lab_args += [f"--gateway-url={gw_url}", f"--notebook-dir={nb}"]
    lab_args += [f"--LabApp.workspaces_dir={state}/ws", f"--LabApp.user_settings_dir={state}/sets"]
    if a.gw_token:
        gw_args.append(f"--KernelGatewayApp.auth_token={a.gw_token}")
        lab_args.append(f"--GatewayClient.auth_token={a.gw_token}")
    if a.list_kernels:
        gw_args.append("--JupyterWebsocketPersonality.list_kernels=True")

    notes: list[str] = []
    results: list[Result] = []
    events: list[str] = []
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(state / "runtime"))
    with gw_log.open("w") as f:
        gw = subprocess.Popen(gw_args, stdout=f, stderr=subprocess.STDOUT, cwd=out)
    with lab_log.open("w") as f:
        lab = subprocess.Popen(lab_args, stdout=f, stderr=subprocess.STDOUT, cwd=out, env=env)
    try:
        hdr = {"Authorization": f"token {a.gw_token}"} if a.gw_token else {}
        wait_http(f"{gw_url}/api", hdr)
        wait_http(f"http://127.0.0.1:{a.lab_port}/api")
        with sync_playwright() as p, (out / f"{a.tag}-ws.log").open("w") as ws_log:
            flags = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
            browser = p.chromium.launch(executable_path=a.chromium, headless=True, args=flags)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(30_000)
            page.add_init_script(SEEN_JS)
            page.on(
                "console",
                lambda m: (
                    m.type in ("error", "warning")
                    and events.append(f"console.{m.type}: {m.text[:300]}")
                ),
            )
            page.on("pageerror", lambda e: events.append(f"pageerror: {e}"[:300]))
            page.on(
                "response",
                lambda r: (
                    r.status >= 400
                    and events.append(f"HTTP {r.status} {r.request.method} {r.url.split('?')[0]}")
                ),
            )
            page.on("websocket", lambda ws: watch_ws(ws, events, ws_log))
            lab_ui = Lab(page, gw.pid, shots, a.tag, results)
            lab_ui.run_all(f"http://127.0.0.1:{a.lab_port}/lab?token={a.lab_token}")
            browser.close()
    finally:
        stop(lab, "lab", notes)
        kids = kernel_pids(gw.pid)
        stop(gw, "gateway", notes)
        time.sleep(1)
        alive = [k for k in kids if Path(f"/proc/{k}").exists()]
        started = r"(?:started kernel:|Kernel started:) ([0-9a-f-]{36})"
        ids = sorted(set(re.findall(started, lab_log.read_text())))
        procs = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
        strays = [p for p in procs if any(i in cmdline(p) for i in ids)]
        notes.append(
            f"kernels under gateway at lab stop: {kids}; alive after gateway stop: {alive}"
        )
        notes.append(f"kernel ids {ids} still running as pids: {strays}")
        notes.append(f"exit codes lab={lab.returncode} gw={gw.returncode}")

    print("\n== browser console / HTTP / websocket events ==")
    for m in events:
        print(" ", m)
    interesting = r"\bW |\bE |WARN|ERROR|Error|Traceback|\b[45]\d\d (GET|POST|PATCH|DELETE)"
    for name, log in (("lab", lab_log), ("gateway", gw_log)):
        print(f"\n== {name} log: warnings/errors ({log}) ==")
        for line in log.read_text(errors="replace").splitlines():
            if re.search(interesting, line):
                print(" ", line[:300])
    print("\n== summary ==")
    for n in notes:
        print(" ", n)
    for name, res, _ in results:
        print(f"  {res:4} {name}")
    ok = sum(res == "OK" for _, res, _ in results)
    left = len(set(strays + alive))
    print(f"{ok}/{len(results)} steps OK, {left} kernel processes left")
    return 0 if results and ok == len(results) and not left else 1


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    repo = Path(__file__).resolve().parents[2]
    ap.add_argument("--gateway", type=Path, default=repo / ".venv/bin/jupyter-kernelgateway")
    ap.add_argument("--jupyter", type=Path, default=Path(sys.executable).parent / "jupyter")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--out", type=Path, help="logs and screenshots (default: a new temp dir)")
    ap.add_argument("--gw-port", type=int, default=9101)
    ap.add_argument("--lab-port", type=int, default=9102)
    ap.add_argument("--gw-token", default="", help="run the gateway with this auth token")
    ap.add_argument("--lab-token", default="labtok")
    ap.add_argument("--list-kernels", action="store_true", help="gateway lists its kernels")
    ap.add_argument("--gw-arg", action="append", default=[], help="extra gateway option")
    ap.add_argument("--tag", default="", help="prefix for log and screenshot names")
    a = ap.parse_args()
    a.tag = a.tag or ("token" if a.gw_token else "listk" if a.list_kernels else "plain")
    return a


if __name__ == "__main__":
    sys.exit(main(parse_args()))
