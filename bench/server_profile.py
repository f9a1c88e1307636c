"""Where a rerun's server time goes: py-spy samples a real server while one session edits.

The raw stacks are kept in bench/out/profile_<name>.txt. The summary charges each sample
to the app's own frames (explorer/, streamlit_app.py), to Streamlit's post-script
gc.collect (when it is on), and to Streamlit's other work, and gives milliseconds per rerun.
With cached=True the session sends two texts it has already sent, in turn.

A sample is a thread py-spy saw running, and it cannot tell a thread that computes from one that waits for
the GIL (a script thread back from a socket write, say), so the samples give shares, not CPU time. Stacks
that end in a wait (a select, a Condition's wait, a sleep) are idle and left out; py-spy's --nonblocking
mode lets some through (2026-12-04: 59 of 189 samples of an uncached run, a third of its "server" section).
The CPU the server's process tree really used is read from the kernel (utime + stime) around the edits.
"""

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.common import OUT, SEED_X, fresh_layers, streamlit_server, tree_sum
from bench.protocol import Session

RATE = 200  # samples a second
GC_FRAME = "ScriptRunner._on_script_finished "  # its gc.collect(2) is C code: this is the leaf frame
PROCESS = re.compile(r"^process (\d+):")
FRAME = re.compile(r"^\S.* \(.+:\d+\)$")  # "function (file:line)"; not the pieces of a command line split at ";"
IDLE_LEAVES = ("EpollSelector.select ", "Condition.wait ", "Event.wait ", "sleep ", "Queue.get ")  # waits, not work
APP_FRAME = re.compile(r"^(?P<func>.+) \((?:.*/)?(?P<file>explorer/(?:\w+/)*\w+\.py|streamlit_app\.py):\d+\)$")


def py_spy():
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid, seconds, path):
    command = [py_spy(), "record", "-p", str(pid), "-r", str(RATE), "-d", str(int(seconds)), "-f", "raw",
               "-o", str(path), "--subprocesses", "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def edit_loop(url, seconds, pause=0.4, cached=False):
    """Edits, one at a time, for `seconds`; returns how many. Fresh formulas, or (cached) two seen ones in turn."""
    session = Session(url, timeout=60)
    count = 0
    seen = [fresh_layers(), fresh_layers()]
    try:
        session.rerun()
        for layers in seen:
            session.rerun({"x": SEED_X, "layers": layers})
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(pause)
            session.rerun({"x": SEED_X, "layers": seen[count % 2] if cached else fresh_layers()})
            count += 1
    finally:
        session.close()
    return count


def split(stack):
    """The sampled process's pid, and the frames outermost first (py-spy lists the parent processes first)."""
    parts = stack.split(";")
    pids = [int(match[1]) for match in map(PROCESS.match, parts) if match]
    frames = [p for p in parts if FRAME.match(p) and not p.startswith(("process ", "thread "))]
    return (pids[-1] if pids else None), frames


def app_frames(frames):
    """(file, function) of each frame of the app's own code, outermost first, the error wrapper left out."""
    found = []
    for frame in frames:
        match = APP_FRAME.match(frame)
        if match and match["file"] != "streamlit_app.py" and "drawn_safely" not in match["func"]:
            found.append(f"{match['file'].removeprefix('explorer/')}:{match['func']}")
    return found


def charge(pid, frames, server_pid):
    """Where a sample goes: a section of the page, Streamlit's post-script GC, a worker process, or Streamlit."""
    ours = app_frames(frames)
    if pid != server_pid:
        if any("_fixup_main_from_path" in frame for frame in frames):
            return "worker processes: re-running streamlit_app.py (multiprocessing's spawn.prepare)"
        if ours:
            return "worker processes: " + ours[0]
        return "worker processes: fork, imports, exit"
    if frames and frames[-1].startswith(GC_FRAME):
        return "Streamlit: post-script gc.collect(2)"
    if ours:
        return ours[0]
    if any("ScriptRunner" in frame for frame in frames):
        return "Streamlit: script runner (elements, protobuf, state)"
    return "Streamlit: server (event loop, websocket, protobuf)"


def summarise(path, reruns, server_pid, top=12):
    """Milliseconds per rerun, by section and by the innermost app function (hot spots), biggest first."""
    sections, hot = Counter(), Counter()
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        pid, frames = split(stack)
        if frames and frames[-1].startswith(IDLE_LEAVES):
            continue
        sections[charge(pid, frames, server_pid)] += int(count)
        ours = app_frames(frames)
        if ours and not any("_fixup_main_from_path" in frame for frame in frames):
            hot[ours[-1]] += int(count)
    per_rerun = 1000 / RATE / max(reruns, 1)
    return {
        "sections": [(label, n * per_rerun) for label, n in sections.most_common(top)],
        "hot": [(label, n * per_rerun) for label, n in hot.most_common(top)],
        "sampled_ms": sum(sections.values()) * per_rerun,
    }


def tree_cpu_seconds(pid):
    """User + system CPU seconds of a process and its children, living and reaped (psutil's cpu_times)."""
    import psutil

    reaped = psutil.Process(pid).cpu_times()  # children it has waited for: a worker that exited during the edits
    return (tree_sum(pid, lambda process: sum(process.cpu_times()[:2]))
            + reaped.children_user + reaped.children_system)


def run(app, name, seconds=12, env=None, cached=False):
    if py_spy() is None:
        return {"skipped": "py-spy is not installed (pip install -r requirements-dev.txt)"}
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"profile_{name}.txt"
    with streamlit_server(app, f"profile_{name}", env=env) as (url, process):
        edit_loop(url, 3)  # warm: imports, workers
        spy = record(process.pid, seconds + 1, path)
        time.sleep(0.5)
        cpu_before = tree_cpu_seconds(process.pid)
        reruns = edit_loop(url, seconds, cached=cached)
        cpu_ms = (tree_cpu_seconds(process.pid) - cpu_before) * 1000 / max(reruns, 1)
        spy.wait(timeout=60)
    if not path.exists():
        return {"skipped": "py-spy recorded nothing (ptrace not permitted?)"}
    summary = summarise(path, reruns, process.pid)
    raw = str(path.relative_to(OUT.parents[1]))
    return {"reruns": reruns, "cached": cached, "cpu_ms": cpu_ms, **summary, "raw": raw}


if __name__ == "__main__":
    import json

    from bench.common import APP

    print(json.dumps(run(APP, "app", seconds=8), indent=1))
