"""The results as markdown: the headline table (targets, measured, pass/miss), then the details."""

import math
import os
import platform
import subprocess
from datetime import UTC, datetime

from bench.common import ROOT, mib, ms, table


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


def ratio(a, b):
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def times(value):
    return "n/a" if math.isnan(value) else f"{value:.2f}×"


def verdict(ok):
    return "n/a" if ok is None else ("**pass**" if ok else "**miss**")


def at_most(value, limit):
    return None if value is None or math.isnan(value) else value <= limit


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
    if results.get("example_switch"):
        rows += switch_rows(results["example_switch"])
    server = results.get("server_time")
    if server:
        worst_cached = max(t["cached"] for t in server["real"].values())
        floor_cached = max((t["cached"] for t in server["real_floor"].values()), default=math.nan)
        rows.append(("Server time, cached rerun, worst preset (real server)", "≤ 10 ms",
                     f"{ms(worst_cached)} (floor {ms(floor_cached)}; app − floor {ms(worst_cached - floor_cached)})",
                     verdict(at_most(worst_cached, 10))))
        rows += back_to_back_rows(server)
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
        app_s, floor_s = cold["app"]["drawn_s"], cold["floor"]["drawn_s"]
        rows.append(("Cold start to first complete page: app − floor (issue 17)", "≤ 4 s",
                     f"{app_s - floor_s:.1f} s ({app_s:.1f} s / {floor_s:.1f} s, {times(ratio(app_s, floor_s))})",
                     verdict(at_most(app_s - floor_s, 4.0))))
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
    step = (tangent or {}).get("step_move")
    if step:
        floor = edit["floor"]["cached"]["total"]["p50"]
        r = ratio(step["latency"]["p50"], floor)
        rows.append(("Step move in Chromium (the step and the graph, a fragment): p50 / the floor's edit p50",
                     "none set", f"{times(r)} ({ms(step['latency']['p50'])} / {ms(floor)}; p95 "
                     f"{ms(step['latency']['p95'])}; {step['frames_received']} frames received a move)", "context"))
    if results.get("public"):
        rows += public_rows(results["public"])
    elif results.get("burst"):
        rows += scenario_rows({"burst": results["burst"]})
    if results.get("link"):
        rows += link_rows(results["link"])
    if results.get("budget"):
        rows += budget_rows(results["budget"])
    if results.get("budget_heavier"):
        rows += budget_rows(results["budget_heavier"])
    return rows


# ---------------------------------------------------------------- choosing an example (issue 18)


SWITCH_P95_MS = 1000


def switch_rows(switch):
    every, first, second, bias = (switch[key]["total"] for key in ("all", "first", "second", "bias"))
    return [
        ("Example switch in Chromium, every example twice round: p95 of every switch (first round / second)",
         f"p95 ≤ {SWITCH_P95_MS / 1000:g} s",
         f"{ms(every['p95'])} ({ms(first['p95'])} / {ms(second['p95'])}; p50 {ms(every['p50'])}, max "
         f"{ms(every['max'])}, {every['n']} switches)", verdict(at_most(every["p95"], SWITCH_P95_MS))),
        ("The neuron's bias edited with the chain rule and the check open: p95 / max", "none set",
         f"{ms(bias['p95'])} / {ms(bias['max'])} (p50 {ms(bias['p50'])}, {bias['n']} edits)", "context"),
    ]


def switch_details(switch):
    rows = []
    for key, label in (("first", "first round (each example cold)"), ("second", "second round (warm caches)"),
                       ("all", "every switch"), ("bias", "bias edits, chain rule and check open")):
        part = switch[key]
        rows.append((label, *(f"{ms(part[p]['p50'])} / {ms(part[p]['p95'])}"
                              for p in ("total", "before_send", "server", "drawing")), part["total"]["n"]))
    text = table(("p50 / p95", "total", "before sending", "server", "drawing", "n"), rows)
    slowest = sorted((s for r in switch["switches"] for s in r), key=lambda s: -s["total"])[:5]
    text += ("\n\nFrom the pointerdown on the option (or Ctrl+Enter) to the first frame in which the script has "
             "run, is idle and the graph shows the example's output heading (bench/example_switch.py). Slowest: "
             + ", ".join(f"{s['example']} {ms(s['total'])} (server {ms(s['server'])})" for s in slowest) + ".")
    return text


# ---------------------------------------------------------------- hosting (issue 17)


def scenario_rows(results):
    """The server scenarios' rows, for the results of one setting (shipped, or results["cloud"])."""
    rows = []
    if results.get("load"):
        rows += load_rows(results["load"], "")
    burst = results.get("burst") or (results.get("public") or {}).get("burst")
    if burst:
        rows += burst_rows(burst) if "failed" not in burst else [("Public: burst", "", f"failed: {burst['failed']}",
                                                                   "**miss**")]
    if results.get("link"):
        rows += link_rows(results["link"])
    return rows


def hosting(results):
    """The class, the burst and the link as shipped and under Cloud's settings, side by side ("" if not run)."""
    cloud = results.get("cloud")
    if not cloud:
        return ""
    shipped = {(row[0], row[1]): row for row in scenario_rows(results)}
    rows = []
    for row in scenario_rows(cloud):
        mine = shipped.get((row[0], row[1]), (None, None, "not run", "n/a"))
        rows.append((row[0], row[1], mine[2], mine[3], row[2], row[3]))
    return table(("measure", "target", "as shipped", "result", "under Cloud's settings", "result"), rows)


def link_rows(link):
    from bench.link import ONE_PEAK_MB, ONE_SECONDS, SMALL_MAX_MS, THREE_PEAK_MB

    rows = []
    for key, limit, label in (("one", ONE_PEAK_MB, "one visitor"), ("three", THREE_PEAK_MB, "three at once")):
        part = link.get(key)
        if not part:
            continue
        over = part["peak_mb"] - part["idle_mb"]
        seconds = [page.get("seconds", math.nan) for page in part["pages"]]
        outcomes = ", ".join(page["outcome"] + (" (queued)" if page.get("queued") else "") for page in part["pages"])
        fine = all(page["outcome"] in ("plot drawn", "plot refused", "busy") for page in part["pages"])
        quick = key != "one" or all(s <= ONE_SECONDS or page["outcome"] == "plot refused"
                                    for s, page in zip(seconds, part["pages"], strict=True))
        target = f"≤ {limit} MB" + (f", ≤ {ONE_SECONDS:g} s or the plot refused" if key == "one" else "")
        rows.append((f"Link visitor ({part['rows']:,}×1 x, a leaf row of 95), {label}: peak RSS over idle, "
                     "time to a finished page", target,
                     f"+{over:,.0f} MiB; {', '.join(f'{s:.1f} s' for s in seconds)}; {outcomes}",
                     verdict(at_most(over, mib(limit)) and quick and fine)))
        small = part["small"]
        rows.append((f"Link visitor, {label}: a small session's seed edits meanwhile, p95 / max",
                     f"max ≤ {ms(SMALL_MAX_MS)}", f"{ms(small['p95'])} / {ms(small['max'])} ({small['n']} edits)",
                     verdict(None if not small["n"] else at_most(small["max"], SMALL_MAX_MS)
                             and not part["small_failed"])))
    return rows


BACK_TO_BACK_MAX = 1.2  # no stall: an edit sent the moment the last page is in costs what a spaced one does


def back_to_back_rows(server):
    """Edits sent the moment the last page is in, against edits 0.4 s apart: a stall shows as a ratio far over 1."""
    if "back_to_back" not in server:
        return []
    app, floor = server["back_to_back"], server["back_to_back_floor"]
    r, floor_r = (ratio(m["back_to_back"], m["spaced"]) for m in (app, floor))
    return [(f"Edits sent back to back, one protocol session: p50 / p50 of edits {app['spaced_s']:g} s apart",
             f"≤ {BACK_TO_BACK_MAX}×",
             f"{times(r)} ({ms(app['back_to_back'])} / {ms(app['spaced'])}); plain Streamlit (the floor app) "
             f"{times(floor_r)} ({ms(floor['back_to_back'])} / {ms(floor['spaced'])})",
             verdict(at_most(r, BACK_TO_BACK_MAX)))]


def budget_rows(budget):
    """The budgeted burst's rows; with "ballast_mb", on a server that starts that much larger than the model."""
    if "failed" in budget:
        return [("Cloud's smallest tier: burst", "", f"failed: {budget['failed']}", "**miss**")]
    limit, victim = budget["budget_mb"], budget["victim"]
    server = f", the server {budget['ballast_mb']} MB larger than the model" if budget.get("ballast_mb") else ""
    return [
        (f"Cloud's smallest tier: burst with EXPLORER_MEMORY_BUDGET_MB={limit}{server}, peak RSS (server and "
         "children)",
         f"≤ {limit} MB ({mib(limit):,.0f} MiB)", f"{mb(budget['peak_mb'])} (idle {mb(budget['idle_mb'])})",
         verdict(at_most(budget["peak_mb"], mib(limit)))),
        (f"Cloud's smallest tier ({limit} MB{server}): the victim's seed edits p95 / max; heavy reruns",
         "≤ 1 s / ≤ 2 s; queued or busy", f"{ms(victim['p95'])} / {ms(victim['max'])}; " + heavy_outcomes(budget),
         verdict(None if victim["n"] == 0 else at_most(victim["p95"], 1000) and at_most(victim["max"], 2000)
                 and not budget["victim_failed"])),
    ]


def load_rows(load, prefix):
    r = ratio(load["edits"]["p95"], load["single"]["p95"])
    return [
        (f"{prefix}Classroom (30 sessions, {load.get('formulas', 'seed')} formulas): p95 / single-session p95",
         "≤ 2×",
         f"{times(r)} ({ms(load['edits']['p95'])} / {ms(load['single']['p95'])})", verdict(at_most(r, 2.0))),
        (f"{prefix}Classroom: errors", "0", f"{load['error_count']} in {load['edits']['n']} edits",
         verdict(load["error_count"] == 0)),
        (f"{prefix}Classroom: server RSS with children, peak", "≤ 600 MB",
         f"{load['rss_peak_mb']:.0f} MiB (before {load['rss_before_mb']:.0f}, after {load['rss_after_mb']:.0f}; "
         f"peak PSS {load.get('pss_peak_mb', math.nan):.0f})",
         verdict(at_most(load["rss_peak_mb"], mib(600)))),
    ]


# ---------------------------------------------------------------- a public server (issue 9)

PATTERNS = {
    "a": "one session, a new scalar x each rerun, 12 layers of deep sin",
    "b": "x = 1 and ~1 MB of spaces, a new length each rerun",
    "c": "two sessions of pattern a at once",
}


def mb(value):
    """Memory as the bench counts it (tree_rss_mb): MiB."""
    return "n/a" if value is None or math.isnan(value) else f"{value:,.0f} MiB"


def slope(pattern):
    value = pattern["slope_mb_per_100"]
    if math.isnan(value):
        return "n/a (too few samples)"
    least_squares = pattern.get("least_squares_mb_per_100")
    beside = "" if least_squares is None else f" (least squares {least_squares:+.1f})"
    return f"{value:+.1f} MiB/100 reruns{beside}"


def memory_ok(pattern, cache_mb):
    """Growth within the documented cache total + 50 MB, and a flat last half: (verdict, limit in MiB)."""
    from bench.public import FLAT_MB_PER_100, MEMORY_SLACK_MB

    limit = cache_mb + mib(MEMORY_SLACK_MB)
    grew, slope = at_most(pattern["growth_mb"], limit), at_most(pattern["slope_mb_per_100"], mib(FLAT_MB_PER_100))
    return (None if grew is None or slope is None else grew and slope), limit


def public_rows(public):
    rows = [(f"Public: {name}", "", f"failed: {part['failed']}", "**miss**")
            for name, part in public.items() if "failed" in part]
    for name, rows_of in (("memory", memory_rows), ("burst", burst_rows), ("fairness", fairness_rows)):
        if "failed" not in public[name]:
            rows += rows_of(public[name])
    return rows


def memory_rows(memory):
    from bench.public import FLAT_MB_PER_100

    rows = []
    for key, label in PATTERNS.items():
        pattern = memory.get(key, {"failed": "not run"})
        if "failed" in pattern:
            rows.append((f"Public: memory, {label}", "", f"failed: {pattern['failed']}", "**miss**"))
            continue
        ok, limit = memory_ok(pattern, memory["cache_mb"])
        rows.append((f"Public: memory, {label} ({pattern['reruns']} reruns)",
                     f"growth ≤ {limit:.0f} MiB (the caches + 50 MB), last half ≤ {FLAT_MB_PER_100:g} MB/100 reruns",
                     f"{pattern['growth_mb']:+,.0f} MiB; last half {slope(pattern)}",
                     verdict(ok)))
    return rows


def fairness_rows(fair):
    from bench.public import FAIR_SECONDS

    return [("Public: symbolic fairness, victim's derivations shown within "
             f"{FAIR_SECONDS:g} s while two sessions send traps", "all, 0 busy",
             f"{fair['shown_in_time']} of {fair['victim_reruns']} (max {ms(fair['victim']['max'])}), "
             f"{fair['busy']} busy",
             verdict(None if not fair["victim_reruns"] else
                     fair["shown_in_time"] == fair["victim_reruns"] and fair["busy"] == 0))]


def burst_rows(burst):
    from bench.public import BURST_PEAK_MB, SETTLED_MB, VICTIM_MAX_MS, VICTIM_P95_MS

    idle, victim = burst["idle_mb"], burst["victim"]
    return [
        (f"Public: burst of {burst['sessions']} heavy sessions, peak RSS over idle", f"≤ {BURST_PEAK_MB} MB",
         f"+{burst['peak_mb'] - idle:,.0f} MiB ({mb(idle)} → {mb(burst['peak_mb'])})",
         verdict(at_most(burst["peak_mb"] - idle, mib(BURST_PEAK_MB)))),
        (f"Public: burst, RSS {burst['settle_s']:.0f} s after it, over idle", f"≤ {SETTLED_MB} MB",
         f"+{burst['settled_mb'] - idle:,.0f} MiB", verdict(at_most(burst["settled_mb"] - idle, mib(SETTLED_MB)))),
        ("Public: burst, the victim's seed edits p95 / max", f"≤ {ms(VICTIM_P95_MS)} / ≤ {ms(VICTIM_MAX_MS)}",
         f"{ms(victim['p95'])} / {ms(victim['max'])} ({victim['n']} edits, {burst['victim_over_2s']} over 2 s)",
         verdict(None if victim["n"] == 0 else
                 at_most(victim["p95"], VICTIM_P95_MS) and at_most(victim["max"], VICTIM_MAX_MS)
                 and not burst["victim_failed"])),
        ("Public: burst, heavy reruns p50 / max", "none set",
         f"{ms(burst['heavy']['p50'])} / {ms(burst['heavy']['max'])}; " + heavy_outcomes(burst), "context"),
    ]


def heavy_outcomes(burst):
    outcomes = burst["outcomes"]
    failed = sum(count for key, count in outcomes.items() if key.startswith("failed"))
    unfinished = outcomes.get("unfinished at the deadline", 0)
    unsent = burst["heavy_asked"] - sum(outcomes.values())
    return (f"of {burst['heavy_asked']}: {outcomes.get('succeeded', 0)} succeeded, {outcomes.get('refused', 0)} "
            f"refused as busy, {failed} failed otherwise, {unfinished} unfinished and {unsent} not sent "
            f"by the {burst['deadline_s']:.0f} s deadline")


PUBLIC_METHOD = """\
Each measure runs on its own fresh `streamlit run`, driven by protocol sessions (`bench/public.py`); RSS is the
server and its child processes (the symbolic worker included). The attackers open every folded section through
their link (`chain`, `verify`, `export`), as a hostile visitor would; the burst's victim keeps the default view.

- **Memory**: a) x = 0.1, 0.2, ... under 12 layers of `sin` nested 22 deep (the deepest the parser accepts is
  used and shown); b) x = `1` and ~1 MB of spaces, one character shorter each rerun; c) pattern a from two
  sessions at once. Each pattern stops at its rerun count or its time cap. The slope is RSS against reruns over
  the second half of the run, Theil-Sen (the median of the slopes between every two samples): near 0 when the
  memory has levelled off. Until 2026-11-30 it was a least-squares fit, which one low sample (malloc_trim handing
  memory back) could tilt; it is shown in brackets.
- **Burst**: each session sends, in turn, x of 10^5 elements with the seed layers, 12 layers of `sin` 22 deep
  on 7,575 elements (MAX_WORK), and `(x+1)**(0*x+N) + x` on the seed; a victim edits the seed's constant about
  once a second. A heavy rerun is *refused* when an error alert says "busy".
- **Symbolic fairness**: two sessions send `(x+s)**(0*x+N) + x` with a new N back to back; the victim, with
  the chain rule and the check open, sends `y = sin(x)*k` with a new k about once a second. A derivation is
  *shown* when the chain rule draws its LaTeX, *busy* when a notice says so.
"""


def public_details(public):
    parts = [PUBLIC_METHOD.strip()]
    parts += [f"{name} failed: {part['failed']}" for name, part in public.items() if "failed" in part]
    if "failed" not in public["memory"]:
        parts.append(memory_details(public["memory"]))
    if "failed" not in public["burst"]:
        parts.append(burst_details(public["burst"]))
    if "failed" not in public["fairness"]:
        parts.append(fairness_details(public["fairness"]))
    walls = {name: part.get("wall_s", math.nan) for name, part in public.items()}
    patterns = ", ".join(f"{key} {public['memory'].get(key, {}).get('wall_s', math.nan):.0f} s" for key in PATTERNS)
    parts.append(f"Wall time: memory {walls['memory']:.0f} s ({patterns}; a and b side by side), burst "
                 f"{walls['burst']:.0f} s, fairness {walls['fairness']:.0f} s, each on its own fresh server.")
    return "\n\n".join(parts)


def memory_details(memory):
    measured = [key for key in PATTERNS if "failed" not in memory.get(key, {"failed": "not run"})]
    rows = []
    for key in measured:
        p, label = memory[key], PATTERNS[key]
        failed = sum(p["errors"].values())
        depth = f", sin {p['depth']} deep" if p["depth"] else ""
        rows.append((f"{key}: {label}{depth}", f"{p['reruns']} of {p['reruns_asked']}", mb(p["idle_mb"]),
                     mb(p["after_mb"]), mb(p["peak_mb"]), f"{p['growth_mb']:+,.0f} MiB",
                     slope(p), failed))
    text = table(("pattern", "reruns", "RSS idle", "after", "peak", "growth", "growth over the last half",
                  "reruns with an error"), rows)
    text += (f"\n\nDocumented cache total (`explorer.engine.limits.CACHE_BYTES`): {memory['cache_mb']:,.0f} MiB. "
             "RSS every 50 reruns (sampled every 10 for the slope; reruns: MiB):\n\n")
    text += "\n".join(f"- {key}: " + ", ".join(f"{n}: {rss:,.0f}" for n, rss in memory[key]["samples"]
                                                if n % 50 == 0 or n == memory[key]["samples"][-1][0])
                       for key in measured)
    errors = "; ".join(f"{key}: {memory[key]['errors']}" for key in measured if memory[key]["errors"])
    if errors:
        text += f"\n\nErrors shown: {errors}."
    return text


def burst_details(burst):
    heavy, victim = burst["heavy"], burst["victim"]
    text = table(("burst", "p50", "p95", "max", "n"), [
        ("heavy reruns (every one that finished)", ms(heavy["p50"]), ms(heavy["p95"]), ms(heavy["max"]),
         heavy["n"]),
        ("the victim's seed edits", ms(victim["p50"]), ms(victim["p95"]), ms(victim["max"]), victim["n"]),
    ])
    text += (f"\n\n{burst['sessions']} sessions arrived over 3 s, each sending 10^5 elements, a sin chain at "
             f"MAX_WORK and a sympy trap in turn; the burst lasted {burst['seconds']:.0f} s. RSS idle "
             f"{mb(burst['idle_mb'])}, peak {mb(burst['peak_mb'])}, {burst['settle_s']:.0f} s later "
             f"{mb(burst['settled_mb'])}. Heavy reruns {heavy_outcomes(burst)} ({burst['outcomes']}). Victim "
             f"edits that did not draw: {burst['victim_failed'] or 'none'}.")
    return text


def fairness_details(fair):
    return (f"Symbolic fairness: {fair['victim_reruns']} victim reruns of `y = sin(x)*k` while two sessions "
            f"sent {fair['traps_sent']} traps `(x+s)**(0*x+N) + x`; derivation shown in {fair['shown']} "
            f"(p50 {ms(fair['victim']['p50'])}, max {ms(fair['victim']['max'])}), busy in {fair['busy']}; "
            f"outcomes {fair['outcomes']}.")


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


def browser_details(result):
    from bench.browser_profile import details

    return details(result)


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
                     f"{r['peak_rss_mb']:.0f} MiB (+{r['peak_rss_mb'] - r['baseline_rss_mb']:.0f})"))
    growth = scale["growth"]
    text = table(("x elements", "x chars", "engine (explore + figure)", "AppTest rerun", "real rerun, uncached",
                  "real rerun, cached", "sent to the page", "peak RSS (over the app's baseline)"), rows)
    return text + (f"\n\nGrowth exponents (least-squares log-log fit over the five sizes 10^3 → 10^5, each the median "
                   f"of its repeats): engine {growth['engine']:.2f}, "
                   f"AppTest rerun {growth['apptest']:.2f}, real rerun {growth['real']:.2f}, "
                   f"extra peak RSS {growth['rss']:.2f}.")


def load_details(load):
    # The baseline and its two halves (runs before 2026-11-30 had one session before the class only), then the class.
    parts = (("single session (before and after the class, pooled: the baseline)", load["single"]),
             ("single session, before the class", load.get("single_before")),
             ("single session, after the class", load.get("single_after")),
             ("29 protocol sessions, edits", load["edits"]),
             ("29 protocol sessions, opening the page", load["page_loads"]),
             ("1 Chromium session, Ctrl+Enter to redrawn", load["browser_edits"]))
    rows = [(label, ms(part["p50"]), ms(part["p95"]), ms(part["max"]), part["n"]) for label, part in parts if part]
    text = table(("during the class", "p50", "p95", "max", "n"), rows)
    errors = ", ".join(f"{k}: {v}" for k, v in load["errors"].items()) or "none"
    return text + (f"\n\n{load['seconds']:.0f} s, {load['edit_rate']:.1f} edits/s served, server CPU "
                   f"{load['server_cpu_percent']:.0f}% of one core (its own process), errors: {errors}.")


def replica_details(replicas):
    rows = []
    for label, r in (("1 process", replicas["one_process"]),
                     (f"{replicas['replicas']} replicas behind nginx", replicas["behind_nginx"])):
        rows.append((label, ms(r["edits"]["p50"]), ms(r["edits"]["p95"]), ms(r["edits"]["max"]), r["edits"]["n"],
                     f"{r['edit_rate']:.1f}", ms(r["page_loads"]["p95"]), r["error_count"], f"{r['pss_mb']:.0f} MiB"))
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
    sections = table(("where (server and its worker processes)", "sampled ms per edit"),
                     [(label, f"{value:,.1f}") for label, value in profile["sections"]])
    hot = table(("innermost app function on the stack", "sampled ms per edit"),
                [(label, f"{value:,.1f}") for label, value in profile["hot"]])
    kind = "cached (two texts already seen, in turn)" if profile.get("cached") else "fresh"
    return (f"py-spy at 200 Hz on the server and its child processes while one session made {profile['reruns']} "
            f"{kind} edits: {profile['sampled_ms']:,.1f} sampled ms per edit in all, waits left out; raw stacks in "
            f"`{profile['raw']}`. The kernel counted {profile['cpu_ms']:,.1f} CPU ms per edit for the server and its "
            "workers (utime + stime over the edits and the pauses between them). A sample is a running thread, or "
            "one waiting for the GIL, so the samples give shares, not CPU time.\n\n" + sections + "\n\n" + hot)


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
  never seen before (since issue 17 each its own: polynomials, `sin(x)*exp(a*x)`, `tanh(a*x)**2`, a sigmoid
  chain, a cubic, on a scalar, a (3,) or a (2, 3) x; the Chromium page keeps the seed's x); RSS is the server
  plus its child processes (forked children count shared pages again: PSS splits them). The single-session
  baseline is one protocol session alone on the same server, half of its edits before the class and half after,
  pooled (until 2026-11-30: 20 edits before the class only).
- **Replicas**: 60 protocol sessions, each editing every 2-3 s with a formula never seen before, first on one
  `streamlit run`, then through nginx on two replicas started by `deploy/serve.py` (`make serve REPLICAS=2`); the
  sessions send no cookie, so nginx hashes each websocket on a fresh random key. PSS is the whole process tree.
- **Link visitor** (`bench/link.py`): a link with x of 4,000×1 and a leaf row of 95 values (1.9 M element-operations),
  opened over the protocol by one visitor, then by three at once (3,500 rows), each on a fresh server, while a
  small session edits the seed; RSS is the server tree's peak over idle, sampled every 50 ms.
- **As shipped and under Cloud's settings**: the class, the burst and the link run once on the server as shipped
  (the repo's config, no flags) and once with Community Cloud's forced settings as environment variables
  (`tests/harness.py` CLOUD_ENV). The burst runs a third time with `EXPLORER_MEMORY_BUDGET_MB=690`.
- **Browser profile** (`bench/browser_profile.py`): uncached seed edits in headless Chromium while V8's sampling
  profiler (100 µs, over CDP) runs on the page's main thread; each sample's self time goes to the bucket named by
  the innermost frame on its stack (the Graphviz chunk and wasm, plotly's chunk, markdown/code/KaTeX, react-dom,
  emotion, Streamlit's other chunks; V8's GC, "(program)" and "(idle)"), cut per edit by the page's own stamps.
- **Example switch** (`bench/example_switch.py`): in headless Chromium on a real `streamlit run`, every example chosen
  in the Example box in turn, twice round (the first round cold per example, the second on warm caches), timed in
  the page from the pointerdown on the option to the first frame in which the script has run and is idle and the
  graph has changed to the example's; then edits of the neuron's b with `chain=true&verify=true`. No floor: the
  floor app has no select box, so the target is absolute.
- **Instant tangent**: clicks on the plot's slider rail, timed in the page from mousedown to the frame after
  Plotly's `plotly_restyle`; the page's websocket frames are counted by Playwright.
- **Step move**: on the same page, the step slider's arrow key, from the key press to the first frame showing that
  step's text and its orange node with the script idle (bench/step_move.py); the slider and the graph are a fragment.
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
        *(["## As shipped and under Community Cloud's settings", "", hosting(results), ""] if hosting(results)
          else []),
        METHOD,
    ]
    sections = (
        ("edit_latency", "Edit latency in Chromium (from Ctrl+Enter to the redrawn page)", edit_details),
        ("browser_profile", "Where an edit's time goes in Chromium (the renderer's main thread)", browser_details),
        ("example_switch", "Choosing an example in Chromium (issue 18)", switch_details),
        ("server_time", "Server time per rerun (median per preset)", server_details),
        ("scale", "Scale: the two-layer seed on larger x", scale_details),
        ("load", "Classroom load", load_details),
        ("replicas", "Replicas behind nginx (deploy/serve.py)", replica_details),
        ("profile", "Profile of an edit on the server", profile_details),
        ("profile_cached", "Profile of a cached rerun on the server", profile_details),
        ("public", "A public server: memory, a burst, symbolic fairness (issue 9)", public_details),
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
