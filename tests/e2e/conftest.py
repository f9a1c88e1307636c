"""A real `streamlit run` on a free loopback port, and Debian's Chromium driven by Playwright (tests/harness.py)."""

import os

import pytest

from tests.harness import APP, chromium_missing, launch_chromium, open_app, served


@pytest.fixture(scope="session")
def server():
    yield from served(APP)


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
    missing = chromium_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should have installed it")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
