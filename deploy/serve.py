"""`make serve REPLICAS=N`: N Streamlit processes behind nginx with sticky sessions, in the foreground.

    deploy/serve.py [--replicas N] [--port P] [--address A]

nginx listens on A:P (default 0.0.0.0:8501, like `make run`); replica i listens on 127.0.0.1:P+i.
The script fills deploy/nginx.conf's upstream list into a temporary prefix directory, starts the
replicas, waits until each answers /_stcore/health, then starts nginx. A replica that exits is
started again (its sessions reconnect to another replica meanwhile; the URL holds their state).
Ctrl+C or SIGTERM stops nginx, then the replicas, and removes the temporary directory.
REPLICAS and PORT in the environment set the defaults (the Dockerfile uses them).
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit_app.py"
TEMPLATE = ROOT / "deploy" / "nginx.conf"
COOKIE = "replica"  # the cookie nginx hashes on; it sets it itself when a browser has none
HEALTH_SECONDS = 180  # a replica's start-up: about 6 s alone, much more when N start together on 2 cores
RESTART_PAUSE = 5.0  # a replica that keeps crashing is started again at most this often
STOP_SECONDS = 20


# ---------------------------------------------------------------- the configuration


def replica_ports(port, replicas):
    return [port + i for i in range(1, replicas + 1)]


def server_line(port):
    # max_fails/fail_timeout: one refused connection takes a replica out of the hash for 10 s.
    return f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;"


def render_config(address, port, replicas, access_log="/dev/stdout"):
    """deploy/nginx.conf with its listen address, upstream servers, cookie and log filled in."""
    fields = {
        "@LISTEN@": f"{address}:{port}",
        "@SERVERS@": "\n".join(server_line(p) for p in replica_ports(port, replicas)),
        "@COOKIE@": COOKIE,
        "@ACCESS_LOG@": access_log,
    }
    text = TEMPLATE.read_text()
    for field, value in fields.items():
        text = text.replace(field, value)
    return text


def find_nginx():
    """nginx on PATH, or Debian's /usr/sbin/nginx (not on a normal user's PATH)."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(found, os.X_OK):
        raise SystemExit("nginx is missing: apt-get install nginx")
    return found


def free_base_port(replicas, attempts=50):
    """A port P such that P..P+replicas are all free on loopback now (for tests and benchmarks)."""
    for _ in range(attempts):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if all(_is_free(base + i) for i in range(replicas + 1)):
            return base
    raise RuntimeError(f"no run of {replicas + 1} free ports found")


def _is_free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------- the processes


def replica_command(port):
    """`make run`'s command on a loopback port: every other setting comes from .streamlit/config.toml (cwd ROOT)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
    ]


def replica_environment():
    """One cookie secret for all replicas, as Streamlit asks: a page's XSRF cookie then holds on any replica."""
    secret = os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
    return {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secret}


def spawn(command, env=None, stdout=None):
    # A session of its own: Ctrl+C reaches this script only, which stops nginx before the replicas.
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, start_new_session=True)


def start_nginx(nginx_binary, prefix, config):
    """nginx with its stdout on a pipe this script relays to its own stdout.

    nginx opens its access log, /dev/stdout, by path. Run as a normal user, it may not reopen a file
    or pipe that another user made (a shell's redirection, a container engine's log pipe); a pipe
    made by this script, as the same user, it can.
    """
    nginx = spawn([nginx_binary, "-p", str(prefix), "-c", str(config), "-e", "stderr"], stdout=subprocess.PIPE)
    threading.Thread(target=relay, args=(nginx.stdout,), daemon=True).start()
    return nginx


def relay(stream):
    for line in stream:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


def answers_health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.read() == b"ok"
    except OSError:
        return False


def wait_healthy(port, process, stopping, seconds=HEALTH_SECONDS):
    deadline = time.monotonic() + seconds
    while not answers_health(port):
        if process.poll() is not None:
            raise SystemExit(f"replica on port {port} exited with {process.returncode} before it was healthy")
        if time.monotonic() > deadline:
            raise SystemExit(f"replica on port {port} did not answer /_stcore/health within {seconds} s")
        if stopping.wait(0.5):
            raise KeyboardInterrupt
    print(f"serve: replica on 127.0.0.1:{port} is healthy", flush=True)


def stop(processes):
    """SIGTERM to all at once, then wait for each; SIGKILL what is still running after STOP_SECONDS."""
    running = [process for process in processes if process is not None and process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Replica:
    """One `streamlit run` on a loopback port, started again when it exits."""

    def __init__(self, port, env):
        self.port, self.env = port, env
        self.process, self.started = None, 0.0

    def start(self):
        self.process = spawn(replica_command(self.port), self.env)
        self.started = time.monotonic()

    def restart_if_exited(self):
        if self.process.poll() is None or time.monotonic() - self.started < RESTART_PAUSE:
            return
        print(f"serve: replica on port {self.port} exited with {self.process.returncode}; starting it again",
              flush=True)
        self.start()


# ---------------------------------------------------------------- the whole


def serve(address, port, replicas, stopping):
    """Run until `stopping` is set or nginx exits; returns nginx's exit code (0 when stopped)."""
    nginx_binary = find_nginx()
    prefix = Path(tempfile.mkdtemp(prefix="explorer-nginx-"))
    prefix.chmod(0o755)  # started as root, nginx's workers run as nobody and must reach temp/
    (prefix / "temp").mkdir()
    config = prefix / "nginx.conf"
    config.write_text(render_config(address, port, replicas))
    env = replica_environment()
    fleet = [Replica(p, env) for p in replica_ports(port, replicas)]
    nginx = None
    try:
        for replica in fleet:
            replica.start()
        for replica in fleet:
            wait_healthy(replica.port, replica.process, stopping)
        nginx = start_nginx(nginx_binary, prefix, config)
        print(f"serve: {replicas} replicas behind nginx at http://{address}:{port}", flush=True)
        while not stopping.wait(1.0):
            if nginx.poll() is not None:
                print(f"serve: nginx exited with {nginx.returncode}", flush=True)
                return nginx.returncode or 1
            for replica in fleet:
                replica.restart_if_exited()
        return 0
    finally:
        stop([nginx])  # no new requests first
        stop([replica.process for replica in fleet])
        shutil.rmtree(prefix, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=int(os.environ.get("REPLICAS", 2)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8501)), help="nginx's port")
    parser.add_argument("--address", default="0.0.0.0", help="nginx's address (replicas stay on 127.0.0.1)")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        return serve(args.address, args.port, args.replicas, stopping)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
