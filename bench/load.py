"""Classroom load: 30 sessions on one server, each editing the layers every 2-3 s (randomised).

29 sessions speak Streamlit's websocket protocol directly (bench/protocol.py), and one is
a real Chromium page. On two cores, 30 Chromium pages would spend the CPU drawing graphs
and plots and the test would measure the browsers, not the server; a protocol session
costs the server exactly what a browser's does (the same BackMsg, the same ForwardMsgs)
and its latency is request to script_finished. The Chromium session shows what one
student sees meanwhile, from Ctrl+Enter to the redrawn page.

Every edit is a formula never seen before, so no cache helps. By default (issue 17) each session types its
own, varied formulas: a polynomial, `sin(x)*exp(a*x)`, `tanh(a*x)**2`, a sigmoid chain and a cubic in turn,
on a scalar, a (3,) or a (2, 3) x (a third of the sessions each), every edit with new constants.
`formulas="seed"` is the class before issue 17: every edit the seed with its constant changed, on the seed x.
It read 1.59x (watcher off) where issue 17's varied class read 2.0x (watcher off) and 3.5-4.8x (on): the
seed's exploration is the cheapest there is, and every student typing the same shape flatters the ratio.
The single-session baseline is the same kind of edit on the same server alone (the varied one goes through
every formula and every x in turn): half of its edits before the class arrives and half after it has left,
pooled. Twenty edits before the class alone gave a p95 (their second-slowest) that moved 24-31 ms between
runs, as much as the margin under test, and this machine's speed drifts over the minutes of a run: before
and after, pooled, weighs both ends of the class alike.
"""

import itertools
import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.browser_checks import STAMPS, app_expectation, edit_and_wait, wait_drawn
from bench.common import (
    APP,
    SEED_X,
    Deadline,
    fresh_layers,
    launch_chromium,
    new_page,
    seed_layers,
    streamlit_server,
    summary,
    tree_pss_mb,
    tree_rss_mb,
)
from bench.protocol import Session

SESSIONS = 30
EDIT_EVERY = (2.0, 3.0)  # seconds between one session's edits
ARRIVAL = 3.0  # sessions open the page within this many seconds
BASELINE_PAUSE = 0.4

# The varied class (issue 17): what students type, each family with two fresh constants a and b.
FAMILIES = (
    "y = {a}*x**2 + {b}*x + 1",
    "y = sin(x)*exp({a}*x)",
    "y = tanh({a}*x)**2",
    "h = sigmoid({a}*x)\ny = sigmoid({b}*h - 1)\nz = sigmoid(2*y)",
    "y = x**3 - {a}*x**2 + {b}*x",
)
XS = ("0.7", "[0.5, -1., 2.]", SEED_X)  # a scalar, (3,) and (2, 3)
_fresh = itertools.count(1)


def varied_edit(session, edit):
    """Session `session`'s `edit`-th edit: its own x, the families in turn from its own, new constants."""
    n = next(_fresh)  # a and b never repeat in a run, so no cache answers
    a, b = f"{0.2 + n / 997:.6g}", f"{0.5 + (n * 7919 % 1009) / 1009:.6g}"
    return XS[session % len(XS)], FAMILIES[(session + edit) % len(FAMILIES)].format(a=a, b=b)


def seed_edit(session, edit):
    return SEED_X, fresh_layers()


EDITS = {"varied": varied_edit, "seed": seed_edit}


@dataclass
class Tally:
    """Shared by the session threads: latencies in seconds and error counts."""

    edits: list = field(default_factory=list)
    page_loads: list = field(default_factory=list)
    browser_edits: list = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, samples, seconds, error=None):
        with self.lock:
            if error:
                self.errors[error] += 1
            else:
                samples.append(seconds)


def check(run, layers_text=None):
    """The error a rerun shows, or None: it must finish, show no error, and draw the new layer."""
    if run.status != 0:
        return f"script status {run.status}"
    if run.errors:
        return "page error: " + run.errors[0][:80]
    if layers_text is not None:  # the forward code blocks that named the layer are in a lazy tab now
        if layers_text.splitlines()[0] not in run.graph:
            return "page not updated"
    return None


def protocol_student(url, deadline, seed, tally, next_edit_text=seed_edit):
    rng = random.Random(seed)
    time.sleep(rng.uniform(0, ARRIVAL))
    try:
        session = Session(url, timeout=60)
    except Exception as error:  # noqa: BLE001 - every failure is counted, none may stop the class
        tally.add(None, 0, f"connect: {type(error).__name__}")
        return
    try:
        run = session.rerun()
        tally.add(tally.page_loads, run.seconds, check(run))
        next_edit, edits = time.monotonic() + rng.uniform(*EDIT_EVERY), itertools.count()
        while next_edit < deadline.end:
            time.sleep(max(0.0, next_edit - time.monotonic()))
            x_text, layers = next_edit_text(seed, next(edits))
            sent = time.monotonic()
            run = session.rerun({"x": x_text, "layers": layers})
            tally.add(tally.edits, run.seconds, check(run, layers))
            next_edit = sent + rng.uniform(*EDIT_EVERY)
    except Exception as error:  # noqa: BLE001
        tally.add(None, 0, f"{type(error).__name__}: {str(error)[:60]}")
    finally:
        session.close()


def browser_student(browser, url, deadline, seed, tally, next_edit_text):
    """The one real page: opens the app, then edits on the same schedule, timing each redraw. It keeps the
    seed x (the page's check of the redraw computes the expected x.grad for it) and types its layers."""
    rng = random.Random(seed)
    page = new_page(browser)
    try:
        page.add_init_script(STAMPS)
        page.goto(url)
        wait_drawn(page, seed_layers(2), app_expectation)
        next_edit, edits = time.monotonic() + rng.uniform(*EDIT_EVERY), itertools.count()
        while next_edit < deadline.end:
            time.sleep(max(0.0, next_edit - time.monotonic()))
            sent = time.monotonic()
            _, layers = next_edit_text(len(XS) - 1, next(edits))  # the seed x is XS's last
            edit = edit_and_wait(page, layers, app_expectation, timeout_ms=60_000)
            tally.add(tally.browser_edits, edit.total)
            next_edit = sent + rng.uniform(*EDIT_EVERY)
    except Exception as error:  # noqa: BLE001
        tally.add(None, 0, f"browser: {type(error).__name__}: {str(error)[:60]}")
    finally:
        page.context.close()


class Sampler(threading.Thread):
    """Samples the server's memory (with its children) and CPU once a second."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.process.cpu_percent()
        self.rss, self.pss, self.cpu = [], [], []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(1.0):
            self.rss.append(tree_rss_mb(self.process.pid))
            self.pss.append(tree_pss_mb(self.process.pid))
            self.cpu.append(self.process.cpu_percent())


def baseline(url, edits, next_edit_text=seed_edit):
    """One session alone on the server: latency of fresh edits, in seconds (every x and formula in turn)."""
    session = Session(url, timeout=60)
    samples = []
    try:
        session.rerun()
        for n in range(edits):
            time.sleep(BASELINE_PAUSE)
            x_text, layers = next_edit_text(n, n // len(XS))  # every x, and every family on each
            run = session.rerun({"x": x_text, "layers": layers})
            if check(run, layers):
                raise RuntimeError(f"baseline edit failed: {check(run, layers)}")
            samples.append(run.seconds)
    finally:
        session.close()
    return samples


def class_in_session(url, browser, seconds, next_edit_text):
    tally = Tally()
    deadline = Deadline(seconds)
    threads = [
        threading.Thread(target=protocol_student, args=(url, deadline, seed, tally, next_edit_text), daemon=True)
        for seed in range(SESSIONS - 1)
    ]
    for thread in threads:
        thread.start()
    browser_student(browser, url, deadline, SESSIONS, tally, next_edit_text)  # this thread drives the page
    for thread in threads:
        thread.join(timeout=deadline.left() + 90)
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        tally.errors["session still waiting at the end"] += stuck
    return tally


def run(seconds=60, baseline_edits=100, app=APP, env=None, name="load", formulas="varied"):
    """The class on a fresh server; `env` adds environment variables (common.CLOUD_ENV: Cloud's settings)."""
    from playwright.sync_api import sync_playwright

    next_edit_text = EDITS[formulas]
    with streamlit_server(app, name, env=env) as (url, process), sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            before = baseline(url, baseline_edits // 2, next_edit_text)  # also warms the server: imports, first run
            rss_before = tree_rss_mb(process.pid)
            sampler = Sampler(process.pid)
            sampler.start()
            started = time.monotonic()
            tally = class_in_session(url, browser, seconds, next_edit_text)
            elapsed = time.monotonic() - started
            sampler.stopped.set()
            rss_after = tree_rss_mb(process.pid)
            after = baseline(url, baseline_edits - baseline_edits // 2, next_edit_text)
        finally:
            browser.close()
    return {
        "formulas": formulas,
        "sessions": SESSIONS,
        "seconds": elapsed,
        "single": summary(before + after),
        "single_before": summary(before),
        "single_after": summary(after),
        "edits": summary(tally.edits),
        "page_loads": summary(tally.page_loads),
        "browser_edits": summary(tally.browser_edits),
        "edit_rate": (len(tally.edits) + len(tally.browser_edits)) / elapsed,
        "errors": dict(tally.errors),
        "error_count": sum(tally.errors.values()),
        "rss_before_mb": rss_before,
        "rss_peak_mb": max(sampler.rss, default=rss_after),
        "rss_after_mb": rss_after,
        "pss_peak_mb": max(sampler.pss, default=math.nan),
        "server_cpu_percent": sum(sampler.cpu) / max(len(sampler.cpu), 1),
    }


if __name__ == "__main__":
    import json
    import os

    print(json.dumps(run(seconds=float(os.environ.get("BENCH_LOAD_SECONDS", 20)), baseline_edits=12), indent=1))
