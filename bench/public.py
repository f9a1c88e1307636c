"""A public server: memory under attack patterns, a burst of heavy inputs, and symbolic fairness (issue 9).

Every figure comes from a real `streamlit run` on a loopback port, driven by protocol sessions
(bench/protocol.py) that send what a browser sends. RSS is the server with its child processes
(the symbolic worker included).

- memory: one pattern per fresh server, N reruns, RSS sampled every SAMPLE_EVERY reruns (and twice
  a second, for the peak). a) a scalar x that changes on every rerun, under 12 layers of deep sin
  chains; b) x = "1" and about 1 MB of spaces, a different length each time; c) pattern a from two
  sessions at once. Target: growth <= explorer.engine.limits.CACHE_BYTES + 50 MB, and flat over the last half.
- burst: sessions each send three heavy-but-legal inputs in turn (10^5 elements; a sin chain at
  MAX_WORK; a sympy trap), arriving over BURST_ARRIVAL s, while a victim edits the seed about once
  a second. A heavy rerun is "refused" when it shows an error alert saying "busy".
- fairness: two sessions send distinct sympy traps back to back while a victim sends `y = sin(x)*k`
  with a fresh k; the victim's chain rule must show its LaTeX (a derivation, not a busy or timeout
  notice) within FAIR_SECONDS.

Every wait is bounded: each rerun has a deadline (protocol.Session.rerun(within=...)), each
loop a Deadline, and each server is stopped when its measure ends.
"""

import contextlib
import math
import random
import statistics
import threading
import time
import traceback
from collections import Counter

from websocket import WebSocketTimeoutException

from bench.common import APP, MIB, SEED_X, WARM_LINK, Deadline, fresh_layers, streamlit_server, summary, tree_rss_mb
from bench.protocol import Session
from explorer.engine import limits

SAMPLE_EVERY = 10  # reruns between RSS samples (26 in the last half of 500, for its slope)
MEMORY_SLACK_MB = 50  # the allowance over the documented cache total
FLAT_MB_PER_100 = 5.0  # "stops growing": the last half's (Theil-Sen) slope, MB per 100 reruns
CHAIN_LAYERS, CHAIN_DEPTH = 12, 22  # 12 layers of sin(sin(...)) 22 deep, shrunk if the parser refuses it

BURST_ARRIVAL = 3.0  # heavy sessions arrive within this many seconds
VICTIM_EVERY = 1.0  # seconds between the victim's edits
BURST_PEAK_MB, SETTLED_MB = 600, 100  # targets over idle: peak during the burst, and SETTLE s after it
VICTIM_P95_MS, VICTIM_MAX_MS = 1000, 2000

# Folded sections compute nothing until opened (a link opens them): an attacker opens them all,
# and the fairness victim opens the chain rule and the check, where its derivation shows.
EVERY_SECTION = {"chain": "true", "verify": "true", "export": "true"}
SYMBOLIC_SECTIONS = {"chain": "true", "verify": "true"}

FAIR_SECONDS = 2.5  # a victim's derivation arrives within this
RERUN_TIMEOUT = 60  # seconds any one message may take, on every socket


# ---------------------------------------------------------------- inputs


def sin_chain(depth, layers=CHAIN_LAYERS):
    """y1 = sin(sin(...sin(x)...)), y2 the same of y1, ...: `layers` lines of `depth` nested calls."""
    names = [f"y{i}" for i in range(1, layers + 1)]
    inputs = ["x", *names[:-1]]
    return "\n".join(f"{name} = {'sin(' * depth}{arg}{')' * depth}" for name, arg in zip(names, inputs, strict=True))


def number_list(count, rng):
    """x as a flat list of `count` numbers; `rng` makes each session's text its own."""
    return "[" + ",".join(f"{rng.uniform(-2, 2):.3f}" for _ in range(count)) + "]"


def power_trap(exponent, shift=1):
    """sympy folds 0*x + N to the integer N and expands (x+1)**N: seconds of work for one short line."""
    return f"y = (x+{shift})**(0*x+{exponent}) + x"


def spaced_one(rerun):
    """x = 1 followed by spaces, the longest x allowed, one character shorter on each rerun."""
    return "1" + " " * (limits.MAX_X_CHARS - 1 - rerun)


# ---------------------------------------------------------------- what a rerun showed


def refused(run):
    return any("busy" in error.lower() for error in run.errors)


def drawn(run, layers_text):
    """The rerun finished without an error and its graph labels a node with the new first layer."""
    return run.ok and layers_text.splitlines()[0] in run.graph


def symbolic_outcome(run):
    """"shown" when the chain rule shows LaTeX, "busy", or the first line of whatever it showed instead."""
    if run.latex:
        return "shown"
    if any("busy" in alert.lower() for alert in run.alerts):
        return "busy"
    symbolic = [alert for alert in run.alerts if "symbolic" in alert.lower()]
    return (symbolic or run.errors or ["no derivation"])[0][:80]


def short(text):
    return text.replace("\\", "")[:80]


# ---------------------------------------------------------------- memory


# A sample costs ~0.5 ms. Twice a second missed the peak of a link visitor whose page took 0.5 s: one run read
# +4 MiB over idle where the same visitor reads +111 MiB (bench/ANALYSIS.md).
SAMPLE_SECONDS = 0.05


class RssSampler(threading.Thread):
    """The server tree's RSS every SAMPLE_SECONDS: its peak between two points."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0.0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(SAMPLE_SECONDS):
            with contextlib.suppress(Exception):  # the server may be stopping
                self.peak = max(self.peak, tree_rss_mb(self.pid))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(timeout=5)
        return False


class Growth:
    """Reruns done by every session of a pattern, and the server's RSS every SAMPLE_EVERY of them."""

    def __init__(self, pid):
        self.pid = pid
        self.done, self.errors = 0, Counter()
        self.samples = [(0, tree_rss_mb(pid))]
        self.lock = threading.Lock()

    def count(self, run):
        with self.lock:
            self.done += 1
            if not run.ok:
                self.errors[short((run.errors or [f"status {run.status}"])[0])] += 1
            if self.done % SAMPLE_EVERY == 0:
                self.samples.append((self.done, tree_rss_mb(self.pid)))


def _last_half(samples):
    last = samples[-1][0]
    return [(n, rss) for n, rss in samples if n >= last / 2]


def slope_per_100(samples):
    """Theil-Sen slope of RSS against reruns over the last half of the samples, in MB per 100 reruns: the median
    of the slopes between every two samples. RSS readings have one-sided outliers (malloc_trim hands memory back
    at moments, and one low sample tilts a least-squares line); a real leak raises every pairwise slope, so the
    median still shows it."""
    half = _last_half(samples)
    pairs = [(rss_b - rss_a) / (n_b - n_a) for i, (n_a, rss_a) in enumerate(half) for n_b, rss_b in half[i + 1:]
             if n_b != n_a]
    return 100 * statistics.median(pairs) if pairs else math.nan


def least_squares_per_100(samples):
    """The least-squares slope over the same samples (the measure before 2026-11-30), shown beside it."""
    half = _last_half(samples)
    if len(half) < 2:
        return math.nan
    mean_n = sum(n for n, _ in half) / len(half)
    mean_rss = sum(rss for _, rss in half) / len(half)
    spread = sum((n - mean_n) ** 2 for n, _ in half)
    return 100 * sum((n - mean_n) * (rss - mean_rss) for n, rss in half) / spread if spread else math.nan


def accepted_depth(session):
    """The deepest sin chain (at most CHAIN_DEPTH) the explorer accepts: the first rerun that draws."""
    for depth in range(CHAIN_DEPTH, 0, -1):
        run = session.rerun({"x": "0.05", "layers": sin_chain(depth)}, within=RERUN_TIMEOUT)
        if run.ok and run.graph:  # a refusal shows an error (and the last good graph)
            return depth
    raise RuntimeError("the explorer refused every sin chain")


def scalar_attacker(session, growth, reruns, deadline, layers, offset):
    """Pattern a: the same deep layers, x = offset + 0.1, 0.2, ... (a new text, so a new cache entry, each time)."""
    for n in range(1, reruns + 1):
        if deadline.over():
            return
        growth.count(session.rerun({"x": f"{offset + n / 10:g}", "layers": layers}, within=deadline.left()))


def spaces_attacker(session, growth, reruns, deadline):
    """Pattern b: x = 1 padded with about 1 MB of spaces, a different length on each rerun."""
    layers = fresh_layers()
    for n in range(1, reruns + 1):
        if deadline.over():
            return
        growth.count(session.rerun({"x": spaced_one(n), "layers": layers}, within=deadline.left()))


def growth_pattern(pattern, reruns, seconds, sessions=1):
    """One fresh server, `sessions` sessions sending `pattern` `reruns` times each; its RSS figures."""
    with streamlit_server(APP, f"public_memory_{pattern}") as (url, process):
        warm = Session(url, timeout=RERUN_TIMEOUT, link=WARM_LINK)  # torch.func's first call, before idle
        warm.rerun(within=RERUN_TIMEOUT)
        warm.close()
        opened = [Session(url, timeout=RERUN_TIMEOUT, link=EVERY_SECTION) for _ in range(sessions)]
        try:
            for session in opened:
                session.rerun(within=RERUN_TIMEOUT)  # the page load: imports, the default example
            depth = accepted_depth(opened[0]) if pattern != "b" else None
            idle = tree_rss_mb(process.pid)
            growth, deadline = Growth(process.pid), Deadline(seconds)
            with RssSampler(process.pid) as sampler:
                threads = [
                    threading.Thread(target=_attack, args=(pattern, session, growth, reruns, deadline, depth, i))
                    for i, session in enumerate(opened)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=deadline.left() + RERUN_TIMEOUT)
            after = tree_rss_mb(process.pid)
        finally:
            for session in opened:
                session.close()
    if growth.samples[-1][0] == growth.done:  # the last sample was taken at this rerun count: "after" replaces it
        growth.samples.pop()
    growth.samples.append((growth.done, after))
    return {
        "pattern": pattern, "sessions": sessions, "reruns_asked": reruns * sessions, "reruns": growth.done,
        "depth": depth, "errors": dict(growth.errors), "idle_mb": idle, "after_mb": after,
        "peak_mb": max(sampler.peak, after, *(rss for _, rss in growth.samples)), "growth_mb": after - idle,
        "slope_mb_per_100": slope_per_100(growth.samples),
        "least_squares_mb_per_100": least_squares_per_100(growth.samples), "samples": growth.samples,
    }


def _attack(pattern, session, growth, reruns, deadline, depth, index):
    try:
        if pattern == "b":
            spaces_attacker(session, growth, reruns, deadline)
        else:  # a, and c's two sessions: each its own x values
            scalar_attacker(session, growth, reruns, deadline, sin_chain(depth), offset=index / 20)
    except WebSocketTimeoutException:  # the time cap cut the last rerun short: "reruns" says how many were done
        pass
    except Exception as error:  # noqa: BLE001 - a dropped socket ends this session, not the measure
        with growth.lock:
            growth.errors[f"{type(error).__name__}: {short(str(error))}"] += 1


def _pattern_into(patterns, key, reruns, seconds, sessions=1):
    patterns[key] = measured(growth_pattern, key, reruns, seconds, sessions)


def memory(reruns, seconds):
    """The three patterns, each on its own server; a and b side by side (one core each), to save time."""
    patterns = {}
    side_by_side = [threading.Thread(target=_pattern_into, args=(patterns, key, reruns, seconds)) for key in "ab"]
    for thread in side_by_side:
        thread.start()
    for thread in side_by_side:
        thread.join(timeout=seconds + 4 * RERUN_TIMEOUT)  # start-up, page load, the chain check, the last rerun
    _pattern_into(patterns, "c", reruns // 2, seconds, sessions=2)
    return {**patterns, "cache_mb": limits.CACHE_BYTES / MIB}


# ---------------------------------------------------------------- burst


class Burst:
    """What the heavy sessions and the victim saw, shared by their threads."""

    def __init__(self):
        self.heavy, self.victim = [], []  # seconds
        self.outcomes, self.victim_failed = Counter(), Counter()
        self.lock = threading.Lock()

    def heavy_done(self, run):
        with self.lock:
            self.heavy.append(run.seconds)
            if refused(run):
                self.outcomes["refused"] += 1
            elif run.ok:
                self.outcomes["succeeded"] += 1
            else:
                self.outcomes["failed: " + short((run.errors or [f"status {run.status}"])[0])] += 1

    def heavy_lost(self, error):
        with self.lock:
            if isinstance(error, WebSocketTimeoutException):
                self.outcomes["unfinished at the deadline"] += 1
            else:
                self.outcomes[f"failed: {type(error).__name__}: {short(str(error))}"] += 1


def server_limits(env=None):
    """The per-request limits (limits.PER_REQUEST) of a server started with `env` added: a memory budget
    (EXPLORER_MEMORY_BUDGET_MB) scales them, so a burst on it sends the largest inputs *it* allows."""
    text = (env or {}).get(limits.MEMORY_BUDGET_ENV)
    settings = limits.budgeted(int(float(text) * 1_000_000)) if text else vars(limits)
    return {name: settings[name] for name in limits.PER_REQUEST}


def heavy_inputs(index, caps=None):
    """Three inputs the limits allow, each this session's own text: the most elements, the most work of sin
    (server_limits; as shipped 10^5 elements and MAX_WORK), and a sympy trap."""
    caps = caps or server_limits()
    rng = random.Random(index)
    chain = sin_chain(CHAIN_DEPTH)
    elements = caps["MAX_WORK"] // (CHAIN_LAYERS * CHAIN_DEPTH)  # 7,575 as shipped: one sin per element per call
    return [
        (number_list(caps["MAX_X_ELEMENTS"], rng), f"y = 3*x + {2 + index / 64}\nz = 2*y**2"),
        (number_list(elements, rng), chain),
        (SEED_X, power_trap(2000 + index)),
    ]


def heavy_session(url, index, sessions, tally, deadline, caps=None):
    time.sleep(BURST_ARRIVAL * index / sessions)
    inputs = heavy_inputs(index, caps)
    session = None
    try:
        session = Session(url, timeout=RERUN_TIMEOUT, link=EVERY_SECTION)
        session.rerun(within=deadline.left())
        for x_text, layers_text in inputs:
            tally.heavy_done(session.rerun({"x": x_text, "layers": layers_text}, within=deadline.left()))
    except Exception as error:  # noqa: BLE001 - past the deadline, or a dropped socket: counted, not raised
        tally.heavy_lost(error)
    finally:
        if session:
            session.close()


def victim(url, tally, until, deadline):
    """Small seed edits about once a second until `until` is set; each must draw its new layer."""
    session = None
    try:
        session = Session(url, timeout=RERUN_TIMEOUT)
        session.rerun(within=RERUN_TIMEOUT)
        while not until.is_set() and not deadline.over():
            started = time.monotonic()
            layers = fresh_layers()
            run = session.rerun({"x": SEED_X, "layers": layers}, within=RERUN_TIMEOUT)
            tally.victim.append(run.seconds)
            if not drawn(run, layers):
                tally.victim_failed[short((run.errors or ["page not updated"])[0])] += 1
            until.wait(max(0.0, started + VICTIM_EVERY - time.monotonic()))
    except Exception as error:  # noqa: BLE001 - a victim that cannot connect is a failure to report
        tally.victim_failed[f"{type(error).__name__}: {short(str(error))}"] += 1
    finally:
        if session:
            session.close()


def burst(sessions, seconds, settle, env=None, name="public_burst"):
    """The burst on a fresh server; `env` adds environment variables (CLOUD_ENV, EXPLORER_MEMORY_BUDGET_MB)."""
    with streamlit_server(APP, name, env=env) as (url, process):
        warm = Session(url, timeout=RERUN_TIMEOUT, link=WARM_LINK)  # imports and torch.func's first call
        warm.rerun(within=RERUN_TIMEOUT)
        warm.close()
        idle = tree_rss_mb(process.pid)
        tally, deadline, finished = Burst(), Deadline(seconds), threading.Event()
        started = time.monotonic()
        with RssSampler(process.pid) as sampler:
            watcher = threading.Thread(target=victim, args=(url, tally, finished, deadline), daemon=True)
            caps = server_limits(env)
            heavy = [threading.Thread(target=heavy_session, args=(url, i, sessions, tally, deadline, caps),
                                      daemon=True) for i in range(sessions)]
            for thread in [watcher, *heavy]:
                thread.start()
            for thread in heavy:
                thread.join(timeout=deadline.left() + 10)
            finished.set()
            watcher.join(timeout=RERUN_TIMEOUT)
            elapsed = time.monotonic() - started
        time.sleep(settle)
        settled = tree_rss_mb(process.pid)
    return {
        "sessions": sessions, "limits": server_limits(env), "seconds": elapsed, "deadline_s": seconds,
        "settle_s": settle, "idle_mb": idle,
        "peak_mb": sampler.peak, "settled_mb": settled, "heavy": summary(tally.heavy), "heavy_asked": 3 * sessions,
        "outcomes": dict(tally.outcomes),
        "victim": summary(tally.victim), "victim_over_2s": sum(s > 2 for s in tally.victim),
        "victim_failed": dict(tally.victim_failed),
    }


# ---------------------------------------------------------------- fairness


def trap_sender(url, shift, stop, sent):
    """Distinct sympy traps back to back until `stop` is set."""
    session = None
    try:
        session = Session(url, timeout=RERUN_TIMEOUT, link=SYMBOLIC_SECTIONS)
        session.rerun(within=RERUN_TIMEOUT)
        for exponent in range(2000 + 500 * shift, 2500 + 500 * shift):
            if stop.is_set():
                return
            sent[shift] += 1
            session.rerun({"x": SEED_X, "layers": power_trap(exponent, shift)}, within=RERUN_TIMEOUT)
    except Exception:  # noqa: BLE001, S110 - an attacker's failures are not the measure
        pass
    finally:
        if session:
            session.close()


def fairness(reruns, seconds):
    with streamlit_server(APP, "public_fairness") as (url, _):
        session = Session(url, timeout=RERUN_TIMEOUT, link=SYMBOLIC_SECTIONS)
        stop, sent = threading.Event(), Counter()
        attackers = [threading.Thread(target=trap_sender, args=(url, shift, stop, sent), daemon=True)
                     for shift in (1, 2)]
        try:
            session.rerun(within=RERUN_TIMEOUT)  # the page load: imports, before anyone is timed
            for thread in attackers:
                thread.start()
            wait = Deadline(RERUN_TIMEOUT)
            while len(sent) < len(attackers) and not wait.over():  # both traps are running
                time.sleep(0.1)
            latencies, outcomes = victim_derivations(session, reruns, Deadline(seconds))
        finally:
            session.close()
            stop.set()
            for thread in attackers:
                thread.join(timeout=RERUN_TIMEOUT)
    return {
        "victim_reruns": sum(outcomes.values()), "shown": outcomes["shown"], "busy": outcomes["busy"],
        "shown_in_time": sum(s <= FAIR_SECONDS for s in latencies), "outcomes": dict(outcomes),
        "victim": summary(latencies), "traps_sent": sum(sent.values()),
    }


def victim_derivations(session, reruns, deadline):
    """`y = sin(x)*k`, k fresh, about once a second: the latencies of shown derivations, and every outcome."""
    latencies, outcomes = [], Counter()
    for n in range(reruns):
        if deadline.over():
            break
        started = time.monotonic()
        try:
            run = session.rerun({"x": SEED_X, "layers": f"y = sin(x)*{1 + (n + 1) / 97:.6f}"}, within=RERUN_TIMEOUT)
        except WebSocketTimeoutException:
            outcomes[f"no answer in {RERUN_TIMEOUT} s"] += 1
            break
        outcome = symbolic_outcome(run)
        outcomes[outcome] += 1
        if outcome == "shown":
            latencies.append(run.seconds)
        time.sleep(max(0.0, started + VICTIM_EVERY - time.monotonic()))
    return latencies, outcomes


# ---------------------------------------------------------------- all


def run(reruns=500, memory_seconds=200, burst_sessions=20, burst_seconds=150, settle=30, fair_reruns=20,
        fair_seconds=40):
    return {
        "memory": measured(memory, reruns, memory_seconds),
        "burst": measured(burst, burst_sessions, burst_seconds, settle),
        "fairness": measured(fairness, fair_reruns, fair_seconds),
    }


def measured(measure, *args):
    """A measure's figures, or {"failed": why}: one broken measure must not lose the other two."""
    started = time.monotonic()
    try:
        result = measure(*args)
    except Exception as error:  # noqa: BLE001
        traceback.print_exc()
        result = {"failed": f"{type(error).__name__}: {short(str(error))}"}
    return {**result, "wall_s": time.monotonic() - started}


if __name__ == "__main__":
    import json

    print(json.dumps(run(reruns=50, memory_seconds=30, burst_sessions=8, burst_seconds=40, settle=10,
                         fair_reruns=6, fair_seconds=15), indent=1))
