"""One persistent Python for running exported scripts: it imports torch once, not once per script.

The runner is a fresh interpreter that imports nothing of ours; each script runs in its own namespace
(runpy.run_path, as `python script.py` would), with print recording what it printed: the text, as the
script's reader sees it, and every tensor's exact values.
"""

import itertools
import json
import select
import subprocess
import sys

WORKER_SECONDS = 60

# Runs each path read from stdin; prints one JSON line per script: its stdout and tensors, or its traceback.
WORKER = r"""
import builtins, io, json, runpy, sys, traceback
import torch

def run(path):
    printed, text, label = [], io.StringIO(), None
    def record(*args, **kwargs):
        nonlocal label
        builtins.print(*args, **{**kwargs, "file": text})
        for arg in args:
            if isinstance(arg, torch.Tensor):
                tensor = arg.detach()
                printed.append({"label": label, "dtype": str(tensor.dtype), "shape": list(tensor.shape),
                                "values": tensor.flatten().tolist()})
            else:
                label = str(arg)
    try:
        runpy.run_path(path, init_globals={"print": record}, run_name="__main__")
    except BaseException:
        return {"error": traceback.format_exc(limit=-3)}
    return {"printed": printed, "stdout": text.getvalue()}

for line in sys.stdin:
    sys.stdout.write(json.dumps(run(line.rstrip("\n"))) + "\n")
    sys.stdout.flush()
"""


class ScriptRunner:
    def __init__(self, folder):
        self.folder = folder
        self.worker = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True, cwd=folder)
        self.numbers = itertools.count()

    def run(self, code):
        """The script's answer: {"stdout": text, "printed": [tensors]}. Fails on any error."""
        path = self.folder / f"script_{next(self.numbers)}.py"
        path.write_text(code)
        self.worker.stdin.write(f"{path}\n")
        self.worker.stdin.flush()
        ready, _, _ = select.select([self.worker.stdout], [], [], WORKER_SECONDS)
        assert ready, f"no answer in {WORKER_SECONDS} s for:\n{code}"
        line = self.worker.stdout.readline()
        assert line, "the runner died"
        answer = json.loads(line)
        assert "error" not in answer, f"{answer.get('error')}\n{code}"
        return answer

    def close(self):
        self.worker.stdin.close()
        try:
            self.worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.worker.kill()
