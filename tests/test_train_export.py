"""The training loop exported as a script and a notebook: run, it prints the losses the page shows."""

import json
import re
import subprocess
import sys

import pytest

from explorer import explore, train
from explorer.page.presets import BY_KEY
from explorer.views.train_export import training_notebook, training_script
from tests.app_page import open_link


def ran(script):
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def printed_losses(stdout):
    return [float(value) for value in re.findall(r"^step \d+: loss (\S+)$", stdout, re.M)]


@pytest.mark.parametrize(("key", "optimizer", "reduction"), [("tanh_net", "sgd", "sum"), ("tanh_net", "adam", "mean"),
                                                              ("descent", "momentum", "ones_like")])
def test_the_exported_script_prints_the_pages_losses(key, optimizer, reduction):
    preset = BY_KEY[key]
    steps, lr = int(preset.steps), float(preset.lr)
    run = train(preset.x, preset.layers, steps=steps, lr=lr, reduction=reduction, optimizer=optimizer)
    result = explore(preset.x, preset.layers)
    losses = printed_losses(ran(training_script(result.program, result.x, steps, lr, reduction, optimizer)))
    assert len(losses) == steps + 1
    assert losses == pytest.approx(list(run.losses), rel=1e-6, abs=1e-9)


def test_a_diverging_script_stops_with_the_pages_note():
    preset = BY_KEY["divergence"]
    result = explore(preset.x, preset.layers)
    stdout = ran(training_script(result.program, result.x, 100, 1.5, "sum", "sgd"))
    assert "diverged at step 63" in stdout and len(printed_losses(stdout)) == 64
    assert printed_losses(stdout)[:3] == [9.0, 36.0, 144.0]  # x: 0, 9, -9; the distance to 3 doubles


def test_a_leaf_named_like_the_loops_own_names_keeps_its_name():
    x, layers = "[1.0, 2.0]", "step = 0.5\noptimizer = 2.0\nloss = (step*x - optimizer)**2"
    result = explore(x, layers)
    script = training_script(result.program, result.x, 5, 0.05, "sum", "sgd")
    assert "for step_ in range(5 + 1):" in script and "optimizer_ = torch.optim.SGD([step, optimizer]" in script
    assert printed_losses(ran(script)) == pytest.approx(list(train(x, layers, steps=5, lr=0.05).losses), rel=1e-6)


def test_the_notebook_holds_the_scripts_code():
    preset = BY_KEY["tanh_net"]
    result = explore(preset.x, preset.layers)
    cells = json.loads(training_notebook(result.program, result.x, 40, 0.1, "sum", "sgd"))["cells"]
    code = "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    script = training_script(result.program, result.x, 40, 0.1, "sum", "sgd")
    assert script.split("\n", 2)[2] == code + "\n"
    assert "torch.optim.SGD" in "".join(cells[0]["source"])


def test_the_section_offers_both_downloads():
    app = open_link(x="0.0", layers="loss = (x - 3)**2", train="true")
    labels = [button.proto.label for button in app.get("download_button")]
    assert "Training script (.py)" in labels and "Training notebook (.ipynb)" in labels
