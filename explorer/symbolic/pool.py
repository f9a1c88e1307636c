"""Warm sympy workers, shared fairly between the sessions of the one Streamlit process.

A Pool keeps `size` worker processes (`python -m explorer.symbolic.worker`,
started with subprocess, talking one line of JSON each way over their
stdin and stdout). Each serves request after request, and stops a slow one
itself (an alarm). One that still has not answered when `run`'s time is up
is killed, and one that dies (its memory cap) is replaced; a replacement
starts in a background thread, so no request waits for its imports.

Fairness: each owner (a session) has at most one request on a worker at a
time, and owners take turns (round-robin), not first come first served. With
three workers, two sessions sending one trap after another each hold one
worker at most, and a third session still finds one.

The pool moves bytes and knows nothing of sympy: `run` gives back an
Outcome, and explorer.symbolic.client turns it into a Derivation.
"""

import atexit
import collections
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the explorer package
_COMMAND = (sys.executable, "-m", "explorer.symbolic.worker")
# One thread each for BLAS and OpenMP: the worker's arrays are small, and each thread of OpenBLAS
# reserves address space that would count against the worker's RLIMIT_AS.
_THREADS = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class Outcome:
    kind: str  # "answer", "timeout" (killed), "died" (no answer), "busy" (no worker in time), "failed"
    line: bytes = b""  # the worker's answer, for "answer"
    reason: str = ""  # why, for "died" and "failed"


class WorkerDied(Exception):
    pass


class Worker:
    """One worker process, and the pipes to it. Not thread-safe: the pool gives it to one job at a time."""

    def __init__(self, command=_COMMAND):
        env = {**os.environ, **_THREADS}
        self.process = subprocess.Popen(
            command, cwd=_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._pending = b""  # bytes read past the last newline (never expected, kept for correctness)

    @property
    def pid(self):
        return self.process.pid

    def read_line(self, seconds):
        """The next line the worker writes, or None when it writes none within `seconds`."""
        deadline = time.monotonic() + seconds
        fd = self.process.stdout.fileno()
        poller = select.poll()  # not select.select: a busy server's descriptors pass its limit of 1024
        poller.register(fd, select.POLLIN)
        chunks = [self._pending]
        while b"\n" not in chunks[-1]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                self._pending = b"".join(chunks)
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerDied(f"exit code {self.process.poll()}")
            chunks.append(chunk)
        line, _, self._pending = b"".join(chunks).partition(b"\n")
        return line

    def ask(self, request, seconds):
        """The worker's answer to one request line, or None if it has none within `seconds`."""
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise WorkerDied(str(error)) from error
        return self.read_line(seconds)

    def kill(self):
        self.process.kill()
        self.close()
        self.process.stdout.close()

    def close(self, seconds=5.0):
        """End an idle worker: end of input is its signal to exit. It is waited for, or it would stay a zombie
        in the process table until Python next starts a process."""
        try:
            self.process.stdin.close()
        except OSError:  # BrokenPipeError flushing to a worker that already exited
            pass
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_NOBODY = object()  # not an owner: None is one (every caller that names no owner)


class _Job:
    def __init__(self, owner):
        self.owner = owner
        self.worker = None


class Pool:
    def __init__(self, size, start_seconds, start=Worker, idle_seconds=None):
        self.size = size
        self.start_seconds = start_seconds
        self.idle_seconds = idle_seconds  # a worker idle this long exits (its ~90 MB go back); None: never
        self._start = start
        self._reaper = None
        self._lock = threading.Condition()
        self._idle = []  # ready workers
        self._busy = 0  # workers on a job
        self._starting = 0  # workers importing in a background thread
        self._failure = ""  # why the last start failed, while no worker could start
        self._waiting = {}  # owner -> deque of jobs, in arrival order
        self._turns = collections.deque()  # owners with waiting jobs, the next to be served first
        self._running = set()  # owners with a job on a worker
        atexit.register(self.close)

    # ------------------------------------------------------------ workers

    def warm_up(self):
        """Start workers up to `size` in the background, without waiting for them."""
        with self._lock:
            self._fill()

    def _fill(self):
        while len(self._idle) + self._busy + self._starting < self.size:
            self._starting += 1
            threading.Thread(target=self._start_one, name="symbolic-worker-start", daemon=True).start()
        if self.idle_seconds is not None and self._reaper is None:
            self._reaper = threading.Thread(target=self._retire_idle, name="symbolic-worker-reaper", daemon=True)
            self._reaper.start()

    def _retire_idle(self):
        """Close workers nobody has used for idle_seconds; the next derivation starts them again."""
        while True:
            time.sleep(self.idle_seconds / 4)
            now, retired = time.monotonic(), []
            with self._lock:
                for worker in list(self._idle):
                    if now - getattr(worker, "idle_since", now) >= self.idle_seconds and not self._waiting:
                        self._idle.remove(worker)
                        retired.append(worker)
            for worker in retired:
                worker.close()

    @property
    def workers(self):
        """Workers alive or starting."""
        with self._lock:
            return len(self._idle) + self._busy + self._starting

    def _start_one(self):
        worker, failure = None, ""
        try:
            worker = self._start()
            ready = worker.read_line(self.start_seconds)
            if ready is None:
                failure = f"a symbolic worker was not ready within {self.start_seconds:g} s"
        except Exception as error:  # this thread must always account for its start, whatever went wrong
            failure = f"the symbolic worker could not start: {type(error).__name__}: {error}"[:500]
        if failure and worker is not None:
            worker.kill()
        with self._lock:
            self._starting -= 1
            self._failure = failure
            if not failure:
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
                self._dispatch()
            self._lock.notify_all()

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    # ------------------------------------------------------------ turns

    def _next_owner(self):
        """The first owner in turn with no job running, taken out of the turns; _NOBODY if none."""
        for owner in self._turns:
            if owner not in self._running:
                self._turns.remove(owner)
                return owner
        return _NOBODY

    def _dispatch(self):
        """Give idle workers to waiting jobs, one owner after another."""
        while self._idle:
            owner = self._next_owner()
            if owner is _NOBODY:
                return
            queue = self._waiting[owner]
            job = queue.popleft()
            if queue:
                self._turns.append(owner)  # its next job waits behind everyone else's
            else:
                del self._waiting[owner]
            job.worker = self._idle.pop()
            self._busy += 1
            self._running.add(owner)
        self._lock.notify_all()

    def _enqueue(self, job):
        queue = self._waiting.setdefault(job.owner, collections.deque())
        if not queue:
            self._turns.append(job.owner)
        queue.append(job)

    def _withdraw(self, job):
        queue = self._waiting[job.owner]
        queue.remove(job)
        if not queue:
            del self._waiting[job.owner]
            self._turns.remove(job.owner)

    def _wait_for_worker(self, job, seconds):
        """Block until `job` holds a worker; None, or an Outcome saying why it never will."""
        deadline = time.monotonic() + seconds
        with self._lock:
            self._fill()
            self._enqueue(job)
            self._dispatch()
            while job.worker is None:
                remaining = deadline - time.monotonic()
                no_workers = not (self._idle or self._busy or self._starting)
                if remaining <= 0 or (no_workers and self._failure):
                    self._withdraw(job)
                    return Outcome("failed", reason=self._failure) if no_workers else Outcome("busy")
                self._lock.wait(remaining)
        return None

    def _release(self, job, healthy):
        with self._lock:
            self._busy -= 1
            self._running.discard(job.owner)
            if healthy:
                job.worker.idle_since = time.monotonic()
                self._idle.append(job.worker)
            self._fill()
            self._dispatch()

    # ------------------------------------------------------------ one request

    def run(self, owner, request, seconds, queue_seconds):
        """Send one request line (bytes ending in a newline) to a worker when it is `owner`'s turn, and
        wait at most `seconds` for its answer. Never raises for a worker's sake."""
        job = _Job(owner)
        refused = self._wait_for_worker(job, queue_seconds)
        if refused is not None:
            return refused
        worker, outcome = job.worker, None
        try:
            line = worker.ask(request, seconds)
            outcome = Outcome("timeout") if line is None else Outcome("answer", line)
        except WorkerDied as error:
            outcome = Outcome("died", reason=str(error))
        finally:
            healthy = outcome is not None and outcome.kind == "answer"
            if not healthy:
                worker.kill()  # a worker still computing would answer this request to the next one
            self._release(job, healthy)
        return outcome
