"""The results as markdown: the headline table (targets, measured, pass/miss), then the details."""

import math
import os
import platform
import subprocess
from datetime import UTC, datetime

from common import ROOT


def machine():
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "ram_gb": _mem_total_gb(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "streamlit": _version("streamlit"),
        "plotly": _version("plotly"),
        "sympy": _version("sympy"),
        "chromium": _command(["chromium", "--version"]),
        "commit": _command(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "dirty": _dirty(),
        "load_average": os.getloadavg()[0],
    }


def _dirty():
    return bool(_command(["git", "-C", str(ROOT), "status", "--porcelain", "--", "explorer", "streamlit_app.py"]))


def _mem_total_gb():
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return math.nan


def _version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def _command(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=20).stdout.strip()
    except OSError:
        return "?"


# ---------------------------------------------------------------- formatting


def ms(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def ratio(a, b):
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def times(value):
    return "n/a" if math.isnan(value) else f"{value:.2f}×"


def verdict(ok):
    return "n/a" if ok is None else ("**pass**" if ok else "**miss**")


def at_most(value, limit):
    return None if value is None or math.isnan(value) else value <= limit


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- the headline


def headline(results):
    """Rows of (measure, target, measured, verdict)."""
    rows = []
    edit = results.get("edit_latency")
    if edit:
        for case, label in (("uncached", "every edit new"), ("cached", "texts already seen")):
            app, floor = edit["app"][case]["total"], edit["floor"][case]["total"]
            r = ratio(app["p50"], floor["p50"])
            rows.append((f"Edit latency in Chromium, {label}: app p50 / floor p50", "≤ 1.3×",
                         f"{times(r)} ({ms(app['p50'])} / {ms(floor['p50'])})", verdict(at_most(r, 1.3))))
    server = results.get("server_time")
    if server:
        worst_cached = max(t["cached"] for t in server["real"].values())
        floor_cached = max((t["cached"] for t in server["real_floor"].values()), default=math.nan)
        rows.append(("Server time, cached rerun, worst preset (real server)", "≤ 10 ms",
                     f"{ms(worst_cached)} (floor {ms(floor_cached)}; app − floor {ms(worst_cached - floor_cached)})",
                     verdict(at_most(worst_cached, 10))))
    scale = results.get("scale")
    if scale:
        rows_by_n = {int(n): r for n, r in scale["rows"].items()}
        big = rows_by_n.get(100_000)
        if big:
            rows.append(("Scale: x of 10^5 elements, uncached rerun (real server)", "≤ 300 ms",
                         ms(big["real_uncached_ms"]), verdict(at_most(big["real_uncached_ms"], 300))))
        growth = scale["growth"]["real"]
        rows.append(("Scale: growth exponent of the rerun, 10^3 → 10^5", "≤ 1 (linear)",
                     f"{growth:.2f} (engine alone {scale['growth']['engine']:.2f})", verdict(at_most(growth, 1.0))))
    cold = results.get("cold_start")
    if cold:
        r = ratio(cold["app"]["drawn_s"], cold["floor"]["drawn_s"])
        rows.append(("Cold start to first complete page: app / floor", "none set",
                     f"{times(r)} ({cold['app']['drawn_s']:.1f} s / {cold['floor']['drawn_s']:.1f} s)", "context"))
    load = results.get("load")
    if load:
        rows += load_rows(load, "")
    replicas = results.get("replicas")
    if replicas:
        rows += replica_rows(replicas)
    tangent = (edit or {}).get("after")
    if tangent:
        rows.append(("Instant tangent: websocket frames sent during slider clicks", "0",
                     f"{tangent['frames_sent']} in {tangent['clicks']} clicks "
                     f"(click to redraw p50 {ms(tangent['latency']['p50'])})", verdict(tangent["frames_sent"] == 0)))
    return rows


def load_rows(load, prefix):
    r = ratio(load["edits"]["p95"], load["single"]["p95"])
    return [
        (f"{prefix}Classroom (30 sessions): p95 / single-session p95", "≤ 2×",
         f"{times(r)} ({ms(load['edits']['p95'])} / {ms(load['single']['p95'])})", verdict(at_most(r, 2.0))),
        (f"{prefix}Classroom: errors", "0", f"{load['error_count']} in {load['edits']['n']} edits",
         verdict(load["error_count"] == 0)),
        (f"{prefix}Classroom: server RSS with children, peak", "≤ 600 MB",
         f"{load['rss_peak_mb']:.0f} MB (before {load['rss_before_mb']:.0f}, after {load['rss_after_mb']:.0f}; "
         f"peak PSS {load.get('pss_peak_mb', math.nan):.0f})",
         verdict(at_most(load["rss_peak_mb"], 600))),
    ]


def replica_rows(replicas):
    one, many = replicas["one_process"], replicas["behind_nginx"]
    setups = f"1 process → {replicas['replicas']} replicas behind nginx"
    faster = ratio(one["edits"]["p95"], many["edits"]["p95"])
    errors = one["error_count"] + many["error_count"]
    return [
        (f"Replicas ({replicas['sessions']} sessions): edit p95, {setups}", "none set",
         f"{ms(one['edits']['p95'])} → {ms(many['edits']['p95'])} ({times(faster)} lower)", "context"),
        (f"Replicas: edits/s answered, {setups}", "none set",
         f"{one['edit_rate']:.1f} → {many['edit_rate']:.1f} (offered {replicas['offered_rate']:.0f})", "context"),
        ("Replicas: errors", "0", f"{errors} in {one['edits']['n'] + many['edits']['n']} edits",
         verdict(errors == 0)),
    ]


# ---------------------------------------------------------------- details


def edit_details(edit):
    rows = []
    for who in ("app", "floor"):
        for case in ("uncached", "cached"):
            phases = edit[who][case]
            rows.append((who, case, ms(phases["total"]["p50"]), ms(phases["total"]["p95"]), phases["total"]["n"],
                         ms(phases["before_send"]["p50"]), ms(phases["server"]["p50"]), ms(phases["drawing"]["p50"])))
    return table(("page", "edits", "p50", "p95", "n", "keydown→sent p50", "sent→last message p50",
                  "last message→drawn p50"), rows)


def server_details(server):
    rows = []
    for key, real in server["real"].items():
        apptest = server["apptest"].get(key, {})
        rows.append((key, ms(real["uncached"]), ms(real["cached"]),
                     ms(apptest.get("uncached", math.nan)), ms(apptest.get("cached", math.nan))))
    for key, real in server["real_floor"].items():
        apptest = server["apptest_floor"][key]
        rows.append((f"floor app ({key} texts)", ms(real["uncached"]), ms(real["cached"]),
                     ms(apptest["uncached"]), ms(apptest["cached"])))
    return table(("preset", "real server, uncached", "real server, cached", "AppTest, uncached", "AppTest, cached"),
                 rows)


def scale_details(scale):
    rows = []
    for n, r in scale["rows"].items():
        rows.append((f"{int(n):,}", f"{r['x_chars']:,}", ms(r["engine_ms"]), ms(r["apptest_ms"]),
                     ms(r["real_uncached_ms"]), ms(r["real_cached_ms"]), f"{r['bytes'] / 1024:,.0f} KiB",
                     f"{r['peak_rss_mb']:.0f} MB (+{r['peak_rss_mb'] - r['baseline_rss_mb']:.0f})"))
    growth = scale["growth"]
    text = table(("x elements", "x chars", "engine (explore + figure)", "AppTest rerun", "real rerun, uncached",
                  "real rerun, cached", "sent to the page", "peak RSS (over the app's baseline)"), rows)
    return text + (f"\n\nGrowth exponents (log-log slope, 10^3 → 10^5): engine {growth['engine']:.2f}, "
                   f"AppTest rerun {growth['apptest']:.2f}, real rerun {growth['real']:.2f}, "
                   f"extra peak RSS {growth['rss']:.2f}.")


def load_details(load):
    rows = [
        ("single session (before the class)", ms(load["single"]["p50"]), ms(load["single"]["p95"]),
         ms(load["single"]["max"]), load["single"]["n"]),
        ("29 protocol sessions, edits", ms(load["edits"]["p50"]), ms(load["edits"]["p95"]), ms(load["edits"]["max"]),
         load["edits"]["n"]),
        ("29 protocol sessions, opening the page", ms(load["page_loads"]["p50"]), ms(load["page_loads"]["p95"]),
         ms(load["page_loads"]["max"]), load["page_loads"]["n"]),
        ("1 Chromium session, Ctrl+Enter to redrawn", ms(load["browser_edits"]["p50"]),
         ms(load["browser_edits"]["p95"]), ms(load["browser_edits"]["max"]), load["browser_edits"]["n"]),
    ]
    text = table(("during the class", "p50", "p95", "max", "n"), rows)
    errors = ", ".join(f"{k}: {v}" for k, v in load["errors"].items()) or "none"
    return text + (f"\n\n{load['seconds']:.0f} s, {load['edit_rate']:.1f} edits/s served, server CPU "
                   f"{load['server_cpu_percent']:.0f}% of one core (its own process), errors: {errors}.")


def replica_details(replicas):
    rows = []
    for label, r in (("1 process", replicas["one_process"]),
                     (f"{replicas['replicas']} replicas behind nginx", replicas["behind_nginx"])):
        rows.append((label, ms(r["edits"]["p50"]), ms(r["edits"]["p95"]), ms(r["edits"]["max"]), r["edits"]["n"],
                     f"{r['edit_rate']:.1f}", ms(r["page_loads"]["p95"]), r["error_count"], f"{r['pss_mb']:.0f} MB"))
    text = table(("setup", "edit p50", "edit p95", "edit max", "edits", "edits/s", "opening p95", "errors",
                  "PSS after"), rows)
    spread = ", ".join(f"{upstream}: {n}" for upstream, n in
                       sorted(replicas["behind_nginx"].get("websockets_per_replica", {}).items())) or "n/a"
    return text + (f"\n\n{replicas['sessions']} protocol sessions, each editing every 2-3 s "
                   f"({replicas['offered_rate']:.0f} edits/s offered), for {replicas['one_process']['seconds']:.0f} s "
                   f"per setup. Websockets per replica (nginx's access log): {spread}.")


def profile_details(profile):
    if "skipped" in profile:
        return f"Profile skipped: {profile['skipped']}."
    sections = table(("where (server and its worker processes)", "CPU ms per edit"),
                     [(label, f"{value:,.0f}") for label, value in profile["sections"]])
    hot = table(("innermost app function on the stack", "CPU ms per edit"),
                [(label, f"{value:,.0f}") for label, value in profile["hot"]])
    kind = "cached (two texts already seen, in turn)" if profile.get("cached") else "fresh"
    return (f"py-spy at 200 Hz on the server and its child processes while one session made {profile['reruns']} "
            f"{kind} edits ({profile['total_ms']:,.0f} CPU ms per edit in all; raw stacks in `{profile['raw']}`).\n\n"
            + sections + "\n\n" + hot)


def cpu_notes(cpu):
    rows = []
    for name, use in cpu.items():
        rows.append((name, f"{use['wall']:.0f} s", f"{use['own']:.2f}", f"{use['others']:.2f}"))
    return table(("section", "wall time", "cores used by the bench (servers, browser)", "cores used by others"), rows)


METHOD = """\
How each number is taken (details in each bench/ module's docstring):

- **Edit latency**: headless Chromium on a real `streamlit run` (loopback). Fill the layers box, press Ctrl+Enter;
  timed in the page from the keydown to the first animation frame in which the app is idle *and* the graph's SVG
  shows the new layer *and* the code blocks hold the new x.grad *and* the plot's title holds the new slope. Uncached:
  every edit is a seed variant never seen before (`y = 3*x + c`, c changes). Cached: two texts already seen, in
  turn. The floor (`bench/floor_app.py`) echoes the same edits back with st.code.
- **Server time**: a session speaking Streamlit's websocket protocol (`bench/protocol.py`), from the rerun request
  to `script_finished`, reruns 0.3 s apart; uncached: x with trailing spaces never sent before (the same work, a
  new key for every cache), cached: the same text again. This is the whole rerun, Streamlit's post-script work
  included (the app and the floor both run with `[runner] postScriptGC = false` from .streamlit/config.toml).
  AppTest times the script body only, in the bench's own process.
- **Scale**: per size, a subprocess times the engine (explore + tangent figure) and an AppTest rerun and reads its
  peak RSS (VmHWM, reset after start-up); one real server times the whole rerun.
- **Classroom**: 29 protocol sessions and 1 Chromium page on one server, each editing every 2-3 s with a formula
  never seen before; RSS is the server plus its child processes (forked children count shared pages again: PSS
  splits them).
- **Replicas**: 60 protocol sessions, each editing every 2-3 s with a formula never seen before, first on one
  `streamlit run`, then through nginx on two replicas started by `deploy/serve.py` (`make serve REPLICAS=2`); the
  sessions send no cookie, so nginx hashes each websocket on a fresh random key. PSS is the whole process tree.
- **Instant tangent**: clicks on the plot's slider rail, timed in the page from mousedown to the frame after
  Plotly's `plotly_restyle`; the page's websocket frames are counted by Playwright.
"""


def render(results, cpu, info, quick, analysis=""):
    parts = [
        "# Benchmarks",
        "",
        f"One run of `make bench` (`bench/run.py{' --quick' if quick else ''}`), {info['date']}.",
        "",
        f"Machine: {info['cores']} cores, {info['ram_gb']:.1f} GiB RAM; Python {info['python']}, torch "
        f"{info['torch']}, streamlit {info['streamlit']}, plotly {info['plotly']}, sympy {info['sympy']}; "
        f"{info['chromium']}. App at commit {info['commit']}"
        f"{' with uncommitted changes in explorer/ or streamlit_app.py' if info['dirty'] else ''}. "
        f"Load average at the start: {info['load_average']:.2f}.",
        "",
        "## Headline",
        "",
        table(("measure", "target", "measured", "result"), headline(results)),
        "",
        METHOD,
    ]
    sections = (
        ("edit_latency", "Edit latency in Chromium (from Ctrl+Enter to the redrawn page)", edit_details),
        ("server_time", "Server time per rerun (median per preset)", server_details),
        ("scale", "Scale: the two-layer seed on larger x", scale_details),
        ("load", "Classroom load", load_details),
        ("replicas", "Replicas behind nginx (deploy/serve.py)", replica_details),
        ("profile", "Profile of an edit on the server", profile_details),
        ("profile_cached", "Profile of a cached rerun on the server", profile_details),
    )
    for key, title, render_section in sections:
        text = render_section(results[key]) if key in results else ""
        if text:
            parts += ["", f"## {title}", "", text]
    if "cold_start" in results:
        cold = results["cold_start"]
        parts += ["", "## Cold start", "",
                  f"From spawning `streamlit run` to the first complete page (browser already running), median of "
                  f"{len(cold['app']['all_drawn_s'])}: app {cold['app']['drawn_s']:.1f} s "
                  f"(runs {cold['app']['all_drawn_s']}; health check answered after {cold['app']['health_s']:.1f} s), "
                  f"floor {cold['floor']['drawn_s']:.1f} s (runs {cold['floor']['all_drawn_s']})."]
    parts += ["", "## Other load on the machine", "",
              "Other sessions' tests share these cores; this is how much CPU they took during each section.", "",
              cpu_notes(cpu)]
    if analysis:
        parts += ["", analysis.strip()]
    return "\n".join(parts) + "\n"
