"""Hosting (issue 17): the link visitor whose default plot runs the whole program once per sample, and the memory
budget setting for Community Cloud's tiers.

The link: x a 3,500×1 list, a leaf row of 95 values, `y = x*w`, `z = sin(y)*y + y`, `q = sum(z)` (1.66 M
element-operations, under MAX_WORK). Its plot moves one element of a leaf, so it runs the program once per sample;
before explorer.engine.cost.curve_plan sized it (201 samples in one vmap batch, outside admission), three such
visitors at once raised the server by 3.2 GB. Here three open it at once on a real server, over the websocket
protocol, while a small session edits the seed.
"""

import os
import re
import subprocess
import sys
import threading
import time

import pytest

from bench.common import mib
from bench.link import PLOT_REFUSED, THREE_PEAK_MB, link_layers, link_x
from bench.protocol import Session
from bench.public import RssSampler
from explorer.engine import limits
from tests.harness import APP, ROOT, free_port, running, streamlit_command

ROWS = 3_500
VISITORS = 3
SMALL_MAX_SECONDS = 2.0
SEED_X = "[[1., 2, 3], [3, 2, 1]]"


def tree_rss_mb(pid):
    from bench.common import tree_rss_mb as measure

    return measure(pid)


def visitor_page(url, k, start, pages):
    start.wait()
    session = Session(url, timeout=90, link={"x": link_x(ROWS, k), "layers": link_layers()})
    try:
        pages[k] = session.rerun(within=90)
    finally:
        session.close()


def three_visitors(url, pid):
    """Three visitors open the link at once while a small session edits the seed: (pages, small edits' seconds,
    small edits that did not draw, RSS over idle in MiB)."""
    small = Session(url, timeout=90)
    assert small.rerun(within=90).ok  # the first page: imports done before idle is read
    idle = tree_rss_mb(pid)
    pages, start, done = {}, threading.Barrier(VISITORS), threading.Event()
    threads = [threading.Thread(target=visitor_page, args=(url, k, start, pages), daemon=True)
               for k in range(VISITORS)]
    edits, failed = [], []
    with RssSampler(pid) as sampler:
        for thread in threads:
            thread.start()

        def join():
            for thread in threads:
                thread.join(120)
            done.set()

        threading.Thread(target=join, daemon=True).start()
        constant = 2.0
        try:
            while not done.is_set():
                constant += 1 / 64
                layers = f"y = 3*x + {constant:g}\nz = 2*y**2"
                run = small.rerun({"x": SEED_X, "layers": layers}, within=90)
                edits.append(run.seconds)
                if not (run.ok and layers.splitlines()[0] in run.graph):
                    failed.append(run.errors[:1] or ["page not updated"])
                time.sleep(0.5)
        finally:
            small.close()
    return pages, edits, failed, sampler.peak - idle


def served_with_pid(app=APP, command=None, env=None):
    port = free_port()
    return running(command or streamlit_command(app, port), port, env=env, seconds=120), port


@pytest.mark.e2e  # a real `streamlit run` server
def test_three_link_visitors_are_admitted_and_a_small_edit_stays_quick():
    server, _ = served_with_pid()
    with server as (url, process):
        pages, edits, failed, over_idle = three_visitors(url, process.pid)
    print(f"pages: {[(p.seconds, p.plots, p.alerts) for p in pages.values()]}; small edits {edits}; "
          f"+{over_idle:.0f} MiB")
    assert len(pages) == VISITORS, "every visitor's page finishes"
    for run in pages.values():
        assert run.status is not None
        assert not [e for e in run.errors if e.startswith("exception")], run.errors  # nothing raises
        busy = any("Server busy" in alert for alert in run.alerts)
        refused = any(PLOT_REFUSED in alert for alert in run.alerts)
        assert busy or run.plots == 1 or refused, run.alerts  # the plot draws or a sentence says why not
        if not busy:
            assert not run.errors, run.errors
    # the plot's estimate is in the exploration's Cost: the visitors do not all run at once
    assert any(any(a.startswith("Queued:") or "Server busy" in a for a in run.alerts) for run in pages.values())
    assert edits and not failed, failed
    assert max(edits) <= SMALL_MAX_SECONDS, edits
    assert over_idle <= mib(THREE_PEAK_MB), f"+{over_idle:.0f} MiB over idle"  # the target is in MB


# ---------------------------------------------------------------- the memory budget (no server)


def test_no_budget_keeps_the_defaults():
    assert limits._UNBUDGETED["HEAVY_MEMORY_BYTES"] == 250_000_000
    assert limits._UNBUDGETED["SYMBOLIC_WORKERS"] == 3


@pytest.mark.parametrize("megabytes", [640, 690, 1000, 1500, 2700])
def test_a_budget_holds_the_idle_server_the_workers_the_caches_and_the_heavy_work(megabytes):
    settings = limits.budgeted(megabytes * 1_000_000)
    total = (limits.IDLE_SERVER_BYTES + limits.MEMORY_HEADROOM_BYTES
             + settings["SYMBOLIC_WORKERS"] * limits.SYMBOLIC_WORKER_BYTES
             + settings["HEAVY_MEMORY_BYTES"] + sum(settings["CACHE_BUDGETS"].values()))
    assert total <= megabytes * 1_000_000
    assert 1 <= settings["SYMBOLIC_WORKERS"] <= limits._UNBUDGETED["SYMBOLIC_WORKERS"]
    assert limits.MIN_HEAVY_MEMORY_BYTES <= settings["HEAVY_MEMORY_BYTES"] <= limits._UNBUDGETED["HEAVY_MEMORY_BYTES"]
    for name, budget in settings["CACHE_BUDGETS"].items():
        assert 0 < budget <= limits._UNBUDGETED["CACHE_BUDGETS"][name]


def test_the_smallest_tier_gets_one_worker_and_a_smaller_heavy_share():
    settings = limits.budgeted(690_000_000)
    assert settings["SYMBOLIC_WORKERS"] == 1
    assert settings["HEAVY_MEMORY_BYTES"] < limits._UNBUDGETED["HEAVY_MEMORY_BYTES"] / 2
    assert limits.budgeted(2_700_000_000)["HEAVY_MEMORY_BYTES"] == limits._UNBUDGETED["HEAVY_MEMORY_BYTES"]


def test_a_small_budget_shrinks_the_limits_that_size_one_request_and_a_large_one_keeps_them():
    # One request at the default limits raised the server by 140-165 MiB alone: more than 690's heavy share.
    small, large = limits.budgeted(690_000_000), limits.budgeted(2_700_000_000)
    scale = small["HEAVY_MEMORY_BYTES"] / limits._UNBUDGETED["HEAVY_MEMORY_BYTES"]
    for name in limits.PER_REQUEST:
        assert small[name] == int(limits._UNBUDGETED[name] * scale) < limits._UNBUDGETED[name] / 2
        assert large[name] == limits._UNBUDGETED[name]
    least = limits.budgeted(640_000_000)  # near the smallest budget that starts: the floor, not a tiny scale
    assert all(least[name] == int(limits._UNBUDGETED[name] * limits.PER_REQUEST_FLOOR) for name in limits.PER_REQUEST)


def test_a_budget_too_small_for_the_idle_server_is_refused_with_the_least_that_works():
    with pytest.raises(ValueError, match="give it .* MB at least") as refused:
        limits.budgeted(450_000_000)
    least = int(re.search(r"give it (\d+) MB", str(refused.value)).group(1))
    limits.budgeted(least * 1_000_000)  # the number it names starts
    with pytest.raises(ValueError):
        limits.budgeted((least - 1) * 1_000_000)


def read_limits(env):
    code = ("from explorer.engine import limits as l; from explorer.serving import admission, cache; "
            "from explorer.symbolic import client; "
            "print(l.HEAVY_MEMORY_BYTES, admission.ADMISSION.memory_budget, l.CACHE_BYTES, "
            "sum(c.budget for c in cache.CACHES.values()), l.MAX_WORK, l.MAX_X_ELEMENTS, l.MAX_X_CHARS, "
            "client._POOL.size, admission.ADMISSION.ceiling)")
    environment = {k: v for k, v in os.environ.items() if k != limits.MEMORY_BUDGET_ENV}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**environment, **env}, capture_output=True,
                          text=True, timeout=120)
    return done


def test_the_environment_variable_is_read_once_at_import_and_reaches_admission_the_caches_and_the_workers():
    done = read_limits({limits.MEMORY_BUDGET_ENV: "690"})
    assert done.returncode == 0, done.stderr
    heavy, admitted, caches, cached_total, *per_request, workers, ceiling = (int(v) for v in done.stdout.split())
    expected = limits.budgeted(690_000_000)
    assert heavy == admitted == expected["HEAVY_MEMORY_BYTES"]
    assert caches == cached_total == sum(expected["CACHE_BUDGETS"].values())
    assert per_request == [expected[name] for name in limits.PER_REQUEST]
    assert workers == 1
    assert ceiling == 690_000_000  # measured memory is held under the budget itself
    unset = read_limits({})
    assert unset.stdout.split()[:2] == ["250000000", "250000000"] and unset.stdout.split()[-2:] == ["3", "None"]
    assert unset.stdout.split()[4:7] == ["2000000", "100000", "1000000"]  # the per-request limits as documented


def test_a_budget_that_is_not_a_number_stops_the_server_with_a_sentence():
    done = read_limits({limits.MEMORY_BUDGET_ENV: "690MB"})
    assert done.returncode != 0 and "must be a number of megabytes" in done.stderr
