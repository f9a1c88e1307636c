"""What every measure shares: paths, the servers, the browser, the edits, and percentiles."""

import contextlib
import itertools
import math
import os
import threading
import time

from tests.harness import (  # noqa: F401 (the bench's modules take these from here)
    APP,
    CHROMIUM,
    CLOUD_ENV,
    IDLE,
    ROOT,
    chromium_missing,
    free_port,
    running,
    start_streamlit,
    stop,
    streamlit_command,
    wait_healthy,
)
from tests.harness import launch_chromium as _launch_chromium

FLOOR = ROOT / "bench" / "floor_app.py"
OUT = ROOT / "bench" / "out"  # server logs and profiles; ignored by git

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
GRAPH_SVG = '[data-testid="stGraphVizChart"] svg'
PLOT_SVG = '[data-testid="stPlotlyChart"] .main-svg'
VIEWPORT = {"width": 1400, "height": 2200}
# A small program with a leaf, its Jacobian open: its plot makes torch.func's first call in the process (~1.8 s of
# imports, ~60 MB), and the Jacobian's check table imports pandas (~0.5 s, ~30 MB), as the check's table does. The
# server makes the first itself in a delayed warm-up (explorer.serving.facade.warm_up), and the second when a
# table is first drawn; a scenario that reads the idle server's RSS opens this first, so that its idle figure
# holds both and neither lands in the scenario's own time or memory.
WARM_LAYERS = "w = [[0.5, 2]]\ny = x*w\nq = sum(y)"
WARM_LINK = {"x": "[[1.], [2.]]", "layers": WARM_LAYERS, "jacobian": "true"}


# ---------------------------------------------------------------- edits


_constants = itertools.count(1)


def seed_layers(constant):
    """The two-layer seed with its constant changed: the same work, a different text."""
    return f"y = 3*x + {constant}\nz = 2*y**2"


def fresh_layers():
    """A seed variant no server has seen in this run, so no cache can answer it."""
    return seed_layers(2 + next(_constants) / 64)


_spaces = itertools.count(1)


def unseen(x_text):
    """The same x with trailing spaces no server has seen: the same work, but a new text for every cache."""
    return x_text + " " * next(_spaces)


# ---------------------------------------------------------------- statistics


def percentile(samples, q):
    """The q-th percentile (0-100), linearly interpolated; nan for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(samples):
    """p50, p95, max and count of a list of seconds, in milliseconds."""
    ms = [1000 * s for s in samples]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "max": max(ms, default=math.nan), "n": len(ms)}


# ---------------------------------------------------------------- servers


@contextlib.contextmanager
def streamlit_server(app, name, env=None):
    """A real `streamlit run` of `app` on a free loopback port, started as `make run` starts it
    (tests/harness.py); yields (url, process). Its log goes to bench/out.

    `env` adds environment variables (Streamlit reads STREAMLIT_<SECTION>_<OPTION> as config;
    CLOUD_ENV is Community Cloud's forced settings).
    """
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(OUT / f"{name}.log", "w") as log:
        with running(streamlit_command(app, port), port, env=env, stdout=log) as served:
            yield served


# The bench counts memory in MiB (2**20 bytes), as psutil and /proc give it; the issues' targets are in MB (10**6
# bytes, as Community Cloud states its tiers). A target is converted with mib() before it is compared.
MIB = 2**20
MIB_PER_MB = 10**6 / MIB


def mib(megabytes):
    """A target in MB (10**6 bytes) in the bench's unit, MiB: 690 MB is 658 MiB."""
    return megabytes * MIB_PER_MB


def tree_rss_mb(pid):
    """Resident memory of a process and its children, in MiB (forked children's shared pages count again)."""
    return _tree_memory(pid, lambda process: process.memory_info().rss)


def tree_pss_mb(pid):
    """Proportional memory of a process and its children, in MiB: shared pages split between their users."""
    return _tree_memory(pid, lambda process: process.memory_full_info().pss)


def _tree_memory(pid, measure):
    return tree_sum(pid, measure) / MIB


def tree_sum(pid, measure):
    """measure(process) summed over a process and its living children (a child that exits meanwhile counts 0)."""
    import psutil

    process = psutil.Process(pid)
    total = measure(process)
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += measure(child)
    return total


# ---------------------------------------------------------------- browser


def launch_chromium(playwright):
    missing = chromium_missing()
    if missing:
        raise RuntimeError(missing)
    return _launch_chromium(playwright)


def new_page(browser, timeout_ms=60_000):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(timeout_ms)
    return page


class Deadline:
    """A time budget: `left()` seconds remain, `over()` once spent."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def over(self):
        return self.left() == 0.0


# ---------------------------------------------------------------- other load on the machine


class CpuWatch(threading.Thread):
    """How much CPU other people's processes took during a block, in cores; and this bench's own.

    Other sessions' tests share these two cores. Every half second this walks the process
    table and charges each process's CPU time to this bench (this process and its
    descendants: servers, their workers, Chromium) or to others.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.seen = {}  # pid -> (mine, cpu seconds at first sight, latest cpu seconds)
        self.stopped = threading.Event()

    def __enter__(self):
        self.start_wall = time.monotonic()
        self.start_epoch = time.time()
        self._sample()
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(timeout=5)
        self._sample()
        self.wall = time.monotonic() - self.start_wall
        used = {True: 0.0, False: 0.0}
        for mine, first, last in self.seen.values():
            used[mine] += last - first
        self.own = used[True] / self.wall
        self.others = used[False] / self.wall
        return False

    def run(self):
        while not self.stopped.wait(0.5):
            self._sample()

    def _sample(self):
        import psutil

        me = os.getpid()
        for process in psutil.process_iter(["pid", "cpu_times", "create_time"]):
            times = process.info["cpu_times"]
            if times is None:
                continue
            total = times.user + times.system
            pid = process.info["pid"]
            if pid in self.seen:
                mine, first, _ = self.seen[pid]
                self.seen[pid] = (mine, first, total)
            else:  # a process born during the block counts from zero
                born_during = (process.info["create_time"] or 0) >= self.start_epoch
                self.seen[pid] = (_descends_from(process, me), 0.0 if born_during else total, total)


def _descends_from(process, ancestor):
    import psutil

    with contextlib.suppress(psutil.Error):
        return process.pid == ancestor or any(parent.pid == ancestor for parent in process.parents())
    return False


# ---------------------------------------------------------------- the report's cells (bench/report.py and sections)


def ms(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
