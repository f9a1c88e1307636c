"""Replicas: 60 sessions on one Streamlit process, then on two replicas behind nginx (deploy/serve.py).

One process runs every session's script on one interpreter; two replicas can use both cores.
Each session speaks Streamlit's websocket protocol and edits the layers every 2-3 s with a
formula never seen before (load.protocol_student, as in the classroom test), so no cache helps.
Latency is from the rerun request to script_finished; throughput is edits answered per second.

The protocol sessions send no cookie, so nginx hashes each websocket on a fresh random key, as
it does a browser's first visit; nginx's access log says which replica held each websocket.
Before each measure every process is warmed by one session's edits (imports, first run).
"""

import contextlib
import subprocess
import sys
import threading
import time

from bench import load
from bench.common import APP, OUT, ROOT, Deadline, stop, streamlit_server, summary, tree_pss_mb, wait_healthy
from deploy import serve

SESSIONS = 60
REPLICAS = 2
START_SECONDS = 240  # replicas starting together on two shared cores


def protocol_class(url, seconds):
    """SESSIONS protocol sessions editing on `url` for `seconds`; returns the tally and the elapsed time."""
    tally = load.Tally()
    deadline = Deadline(seconds)
    threads = [threading.Thread(target=load.protocol_student, args=(url, deadline, seed, tally), daemon=True)
               for seed in range(SESSIONS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=deadline.left() + 90)
    elapsed = time.monotonic() - started
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        tally.errors["session still waiting at the end"] += stuck
    return tally, elapsed


def outcome(tally, elapsed):
    return {
        "edits": summary(tally.edits),
        "page_loads": summary(tally.page_loads),
        "edit_rate": len(tally.edits) / elapsed,
        "seconds": elapsed,
        "errors": dict(tally.errors),
        "error_count": sum(tally.errors.values()),
    }


def one_process(seconds, warm_edits):
    with streamlit_server(APP, "replicas_single") as (url, process):
        load.baseline(url, warm_edits)
        result = outcome(*protocol_class(url, seconds))
        result["pss_mb"] = tree_pss_mb(process.pid)
    return result


@contextlib.contextmanager
def replicas_behind_nginx(count):
    """`deploy/serve.py --replicas count` on free loopback ports; yields (nginx url, replica urls, log path)."""
    OUT.mkdir(parents=True, exist_ok=True)
    port = serve.free_base_port(count)
    log_path = OUT / "replicas_serve.log"
    log_path.unlink(missing_ok=True)
    command = [sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", str(count), "--port", str(port),
               "--address", "127.0.0.1"]
    with open(log_path, "a") as log:  # appending, as nginx does: no writer overwrites another
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, seconds=START_SECONDS)  # nginx starts once every replica is healthy
        yield url, [f"http://127.0.0.1:{p}" for p in serve.replica_ports(port, count)], log_path, process
    finally:
        process.terminate()  # serve.py stops nginx, then the replicas, within 20 s each
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop(process)


def websockets_per_replica(log_path, since):
    """{replica address: websockets} from nginx's access log lines written after byte `since`."""
    counts = {}
    with open(log_path, "rb") as log:
        log.seek(since)
        for line in log.read().decode(errors="replace").splitlines():
            if "GET /_stcore/stream" in line and "upstream=" in line:
                upstream = line.split("upstream=", 1)[1].split()[0]
                counts[upstream] = counts.get(upstream, 0) + 1
    return counts


def replicas(seconds, warm_edits, count=REPLICAS):
    with replicas_behind_nginx(count) as (url, replica_urls, log_path, process):
        for replica_url in replica_urls:
            load.baseline(replica_url, warm_edits)
        since = log_path.stat().st_size
        result = outcome(*protocol_class(url, seconds))
        result["pss_mb"] = tree_pss_mb(process.pid)
        time.sleep(1)  # nginx logs a websocket when it closes
        result["websockets_per_replica"] = websockets_per_replica(log_path, since)
    return result


def run(seconds=60, warm_edits=5):
    return {
        "sessions": SESSIONS,
        "replicas": REPLICAS,
        "offered_rate": SESSIONS / (sum(load.EDIT_EVERY) / 2),
        "one_process": one_process(seconds, warm_edits),
        "behind_nginx": replicas(seconds, warm_edits),
    }


if __name__ == "__main__":
    import json
    import os

    print(json.dumps(run(seconds=float(os.environ.get("BENCH_LOAD_SECONDS", 20)), warm_edits=3), indent=1))
