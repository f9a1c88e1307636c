"""How the browser tests, the protocol tests and bench/ start Streamlit and Chromium: one place for all three.

The server runs as `make run` runs it: `streamlit run streamlit_app.py` from the repo root, so it reads the
repo's own .streamlit/config.toml, with no flags beyond where to listen. A flag that changes behaviour
(the file watcher's type, a runner setting) would measure and test a different server from the one users get.
The websocket client is bench/protocol.py, imported as `bench.protocol`.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit_app.py"
SHOTS = ROOT / "tests" / "e2e" / "screenshots"

# What Community Cloud forces over config.toml (docs, "Status and limitations"), as the environment
# variables that override config.toml the same way: pass as `env=` to run under Cloud's settings.
CLOUD_ENV = {
    "STREAMLIT_SERVER_RUN_ON_SAVE": "true",
    "STREAMLIT_RUNNER_FAST_RERUNS": "true",
    "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "false",
    "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "true",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "true",
}

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'


# ---------------------------------------------------------------- the server


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer at {url} within {seconds} s")


def listen_flags(port):
    """Where to listen, and nothing else: every other setting comes from the repo's .streamlit/config.toml."""
    return ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"]


def streamlit_command(app, port):
    """`make run`'s command (`streamlit run streamlit_app.py --server.port N`), headless on a loopback port."""
    return [sys.executable, "-m", "streamlit", "run", str(app), *listen_flags(port)]


def start_streamlit(command, env=None, stdout=subprocess.DEVNULL):
    """Start `command` from the repo root, where Streamlit finds .streamlit/config.toml; `env` adds variables.

    The default output is not a pipe nobody reads: a server logging more than a pipe holds would block.
    """
    environment = {**os.environ, **(env or {})}
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=stdout, stderr=subprocess.STDOUT)


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def running(command, port, env=None, stdout=subprocess.DEVNULL, seconds=60):
    """`command` serving on `port` until the block ends; yields (url, process)."""
    process = start_streamlit(command, env=env, stdout=stdout)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, seconds)
        yield url, process
    finally:
        stop(process)


def served(app, env=None):
    """Yield the URL of `app` under a real `streamlit run` on a free loopback port; stop it afterwards."""
    port = free_port()
    with running(streamlit_command(app, port), port, env=env) as (url, _):
        yield url


# ---------------------------------------------------------------- Chromium


def chromium_missing():
    """Why the browser tests cannot run here, or None."""
    if os.path.exists(CHROMIUM):
        return None
    return f"no chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)"


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def open_app(page, url):
    page.goto(url)
    wait_idle(page)


def wait_idle(page):
    """Streamlit's own browser tests wait for this: connected, and the script not running."""
    page.wait_for_timeout(150)  # let a just-sent edit flip the script state to running first
    page.wait_for_selector(IDLE)


def screenshot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_text(page, text):
    """Wait until the page shows `text`: widgets like sliders send their value after a debounce."""
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text)
    wait_idle(page)
