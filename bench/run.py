"""`make bench`: every measure in one run; prints the headline table and writes BENCHMARKS.md.

    python -m bench.run            the full run (about 5 minutes on 2 cores), writes BENCHMARKS.md
    python -m bench.run --quick    a short version of everything (a smoke test), writes bench/out/BENCHMARKS.quick.md
    python -m bench.run --only load,scale    some sections only (no BENCHMARKS.md)
    python -m bench.run --render   rewrite BENCHMARKS.md from the last full run's results (after editing ANALYSIS.md)
    python -m bench.run --cloud --only load,link    server scenarios under Community Cloud's settings only

The server scenarios (the class, the burst, the link visitor) run twice in a full run: as shipped (the repo's
config, no flags), then under Community Cloud's forced settings (common.CLOUD_ENV, as environment variables,
which override config.toml as Cloud's do): results["cloud"]. The section "budget" runs the burst again with
EXPLORER_MEMORY_BUDGET_MB=690, Cloud's smallest tier (explorer.engine.limits).

Run it from the repo root: the servers it starts read the repo's .streamlit/config.toml (tests/harness.py).

BENCH_LOAD_SECONDS sets the classroom and replica tests' length (default 60; 10 with --quick).
Raw results go to bench/out/results*.json; bench/ANALYSIS.md (the written analysis of
the misses) is appended to BENCHMARKS.md.
"""

import argparse
import json
import os
import time
import traceback
from pathlib import Path

from bench import (
    browser_profile,
    cold_start,
    edit_latency,
    example_switch,
    link,
    load,
    public,
    replicas,
    report,
    scale,
    server_profile,
    server_time,
    step_move,
    tangent,
)
from bench.common import APP, CLOUD_ENV, OUT, ROOT, CpuWatch


def settings(quick):
    load_seconds = float(os.environ.get("BENCH_LOAD_SECONDS", 10 if quick else 60))
    if quick:
        return {"edits": 4, "clicks": 5, "repeats": 1, "cold": 1, "load": load_seconds, "baseline": 4,
                "profile": 4, "public": PUBLIC_QUICK, "browser_edits": 3, "bias_edits": 3}
    return {"edits": 20, "clicks": 20, "repeats": 2, "cold": 2, "load": load_seconds, "baseline": 100,
            "profile": 10, "public": PUBLIC_FULL, "browser_edits": 10, "bias_edits": 10}


# issue 9's attack patterns: reruns per memory pattern, the burst's sessions, the victim's derivations
PUBLIC_FULL = {"reruns": 500, "memory_seconds": 180, "burst_sessions": 20, "burst_seconds": 150, "settle": 30,
               "fair_reruns": 20, "fair_seconds": 40}
PUBLIC_QUICK = {"reruns": 50, "memory_seconds": 12, "burst_sessions": 6, "burst_seconds": 30, "settle": 5,
                "fair_reruns": 6, "fair_seconds": 8}


def measure_edit_latency(s):
    def after(page, frames):  # on the app's page after its edits: the plot's slider, then the step slider
        return {**tangent.measure(page, frames, s["clicks"]), "step_move": step_move.measure(page, frames, s["clicks"])}

    return edit_latency.run(edits=s["edits"], after=after)


SMALLEST_TIER_MB = 690  # Community Cloud's smallest memory tier
BALLAST_MB = 60  # how much larger than the model the heavier server starts: one run's idle sat 53 MiB over it


def heavier_server(budget_mb):
    """The environment of a server with a budget that starts BALLAST_MB larger than the memory model assumes
    (bench/ballast/sitecustomize.py): the budget must hold by what the server measures, not by the model."""
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent / "ballast"), os.environ.get("PYTHONPATH")]))
    return {"EXPLORER_MEMORY_BUDGET_MB": str(budget_mb), "EXPLORER_BENCH_BALLAST_MB": str(BALLAST_MB),
            "PYTHONPATH": path}


def burst(s, env=None, name="public_burst"):
    p = s["public"]
    return public.measured(public.burst, p["burst_sessions"], p["burst_seconds"], p["settle"], env, name)


# The server scenarios of issue 17, each run with `env` added to the server's environment.
SERVER_SCENARIOS = {
    "load": lambda s, env: load.run(seconds=s["load"], baseline_edits=s["baseline"], env=env, name="load_cloud"),
    "burst": lambda s, env: burst(s, env, "public_burst_cloud"),
    "link": lambda s, env: link.run(env=env, label="cloud"),
}


def cloud_pass(s, names=tuple(SERVER_SCENARIOS)):
    """The server scenarios under Community Cloud's forced settings; a scenario that fails is left out."""
    results = {}
    for name in names:
        print(f"== cloud: {name}", flush=True)
        try:
            results[name] = SERVER_SCENARIOS[name](s, CLOUD_ENV)
        except Exception:  # one broken measure must not lose the others
            print(f"!! cloud: {name} failed", flush=True)
            traceback.print_exc()
    return results


SECTIONS = {
    "server_time": lambda s: server_time.run(repeats=s["repeats"]),
    "scale": lambda s: scale.run(repeats=s["repeats"]),
    "edit_latency": measure_edit_latency,
    "browser_profile": lambda s: browser_profile.run(edits=s["browser_edits"]),
    "example_switch": lambda s: example_switch.run(edits=s["bias_edits"]),
    "cold_start": lambda s: cold_start.run(repeats=s["cold"]),
    "load": lambda s: load.run(seconds=s["load"], baseline_edits=s["baseline"]),
    "replicas": lambda s: replicas.run(seconds=s["load"], warm_edits=min(s["baseline"], 5)),
    "profile": lambda s: server_profile.run(APP, "app", seconds=s["profile"]),
    "profile_cached": lambda s: server_profile.run(APP, "cached", seconds=s["profile"], cached=True),
    "public": lambda s: public.run(**s["public"]),
    "burst": burst,  # public's burst alone, as shipped: for --only (a full run has it in "public")
    "link": lambda s: link.run(),
    "budget": lambda s: {**burst(s, {"EXPLORER_MEMORY_BUDGET_MB": str(SMALLEST_TIER_MB)}, "public_burst_budget"),
                         "budget_mb": SMALLEST_TIER_MB},
    "budget_heavier": lambda s: {**burst(s, heavier_server(SMALLEST_TIER_MB), "public_burst_heavier"),
                                 "budget_mb": SMALLEST_TIER_MB, "ballast_mb": BALLAST_MB},
    "cloud": cloud_pass,
}


def run_sections(names, s):
    """{section: result} and {section: CPU use}; a section that fails is reported and left out."""
    results, cpu = {}, {}
    for name in names:
        print(f"== {name}", flush=True)
        start = time.monotonic()
        with CpuWatch() as watch:
            try:
                results[name] = SECTIONS[name](s)
            except Exception:  # one broken measure must not lose the others
                print(f"!! {name} failed", flush=True)
                traceback.print_exc()
        cpu[name] = {"wall": watch.wall, "own": watch.own, "others": watch.others}
        print(f"   {time.monotonic() - start:.0f} s", flush=True)
    return results, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short version of everything")
    parser.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    parser.add_argument("--render", action="store_true", help="rewrite the report from the last results")
    parser.add_argument("--cloud", action="store_true",
                        help="only the server scenarios (" + ",".join(SERVER_SCENARIOS) + "; --only picks some) "
                        "under Community Cloud's settings")
    args = parser.parse_args()
    suffix = ".quick" if args.quick else ("" if not (args.only or args.cloud) else ".partial")
    saved = OUT / f"results{suffix}.json"
    if args.render:
        info, cpu, results = (json.loads(saved.read_text())[key] for key in ("machine", "cpu", "results"))
    else:
        info = report.machine()
        names = args.only.split(",") if args.only else [name for name in SECTIONS if name != "burst"]
        if args.cloud:
            scenarios = [name for name in names if name in SERVER_SCENARIOS] if args.only else list(SERVER_SCENARIOS)
            SECTIONS["cloud"] = lambda s: cloud_pass(s, scenarios)
            names = ["cloud"]
        results, cpu = run_sections(names, settings(args.quick))
        OUT.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"machine": info, "cpu": cpu, "results": results}, indent=1))
    analysis_file = ROOT / "bench" / "ANALYSIS.md"
    analysis = analysis_file.read_text() if analysis_file.exists() and not args.quick else ""
    text = report.render(results, cpu, info, args.quick, analysis)
    target = ROOT / "BENCHMARKS.md" if suffix == "" else OUT / f"BENCHMARKS{suffix}.md"
    target.write_text(text)
    print(report.table(("measure", "target", "measured", "result"), report.headline(results)))
    hosting = report.hosting(results)
    if hosting:
        print("\n" + hosting)
    print(f"\nwritten: {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
