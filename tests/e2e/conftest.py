"""A real `streamlit run` on a free loopback port, and Debian's Chromium driven by Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "e2e" / "screenshots"
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


def streamlit_command(app, port):
    """`streamlit run` as Streamlit's own browser tests start it, on a loopback port (bench/ uses it too)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]


def start_streamlit(app, port):
    # Not a pipe nobody reads: a server logging more than a pipe holds would block on its next write.
    quiet = subprocess.DEVNULL
    return subprocess.Popen(streamlit_command(app, port), cwd=ROOT, stdout=quiet, stderr=quiet)


def served(app):
    """Yield the URL of `app` under a real `streamlit run` on a free loopback port; stop it afterwards."""
    port = free_port()
    process = start_streamlit(app, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def server():
    yield from served(ROOT / "streamlit_app.py")


@pytest.fixture
def open_page(browser, server):
    """Open pages of a given size and colour scheme at a link; their contexts close after the test."""
    contexts = []

    def opener(url, width=1400, height=2200, scheme="light"):
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        open_app(page, url)
        return page

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should have installed it")
        pytest.skip(f"no chromium at {CHROMIUM}: install Debian's chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


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
