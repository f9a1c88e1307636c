"""Calling backward twice, run for real (issue 19): .grad accumulates, a freed graph refuses, zeroing resets."""

import torch

from explorer import explore
from explorer.engine.accumulate import backward_twice
from explorer.serving import facade
from tests.app_page import open_link as run_app

SEED_X, SEED_LAYERS = "[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2"
FREED = "Trying to backward through the graph a second time"


def twice(x, layers, way, vector=None):
    result = explore(x, layers, vector=vector)
    return backward_twice(result.program, result.x, way, result.vector)


def test_retained_twice_doubles_every_grad_and_zeroing_gives_once():
    run = twice(SEED_X, SEED_LAYERS, "mean")
    assert run.once["x"].tolist() == [[10, 16, 22], [22, 16, 10]]
    assert run.retained["x"].tolist() == [[20, 32, 44], [44, 32, 20]]
    assert run.zeroed["x"].tolist() == [[10, 16, 22], [22, 16, 10]]


def test_twice_without_retain_graph_is_torchs_own_error():
    run = twice(SEED_X, SEED_LAYERS, "sum")
    assert run.error.startswith(FREED) and "retain_graph=True" in run.error and "\n" not in run.error
    assert run.freed["x"].tolist() == [[60, 96, 132], [132, 96, 60]]  # the first pass's, before the refusal


def test_a_graph_that_saved_nothing_lets_a_second_pass_through_and_still_adds():
    run = twice("[1., 2]", "y = x + 2", "sum")  # AddBackward keeps no tensor for backward
    assert run.error == "" and run.freed["x"].tolist() == [2, 2] and run.once["x"].tolist() == [1, 1]


def test_every_leaf_doubles_under_a_vector():
    run = twice("[1., 2]", "w = [3., 4]\nb = 5.0\ny = w @ x + b", "vector", vector="2")
    assert [run.once[n].tolist() for n in ("x", "w", "b")] == [[6, 8], [2, 4], 2]
    assert [run.retained[n].tolist() for n in ("x", "w", "b")] == [[12, 16], [4, 8], 4]
    assert [run.zeroed[n].tolist() for n in ("x", "w", "b")] == [[6, 8], [2, 4], 2]
    assert run.error.startswith(FREED)


def test_an_output_that_reaches_no_leaf_has_no_pass_to_repeat():
    run = twice("[1., 2]", "y = detach(x)", "sum")
    assert run.error == "" and torch.equal(run.retained["x"], torch.zeros(2))


def test_the_section_shows_the_doubling_the_error_and_the_reset():
    app = run_app(accumulate="true", reduction="mean")
    assert not app.exception and not app.error
    codes = [block.value for block in app.code if "retain_graph" in block.value or "RuntimeError" in block.value]
    retained, freed, zeroed = codes
    assert "out.backward(retain_graph=True)" in retained
    assert retained.endswith("# tensor([[20., 32., 44.],\n#         [44., 32., 20.]])")
    assert f"# RuntimeError: {FREED}" in freed
    assert "x.grad.zero_()" in zeroed and zeroed.endswith("# tensor([[10., 16., 22.],\n#         [22., 16., 10.]])")


def test_closed_it_runs_nothing_and_hide_takes_it_away(monkeypatch):
    calls = []
    monkeypatch.setattr(facade, "backward_twice", lambda *args: calls.append(args))
    app = run_app(x="0.6875", layers="y = 3*x**2")
    assert not app.exception and calls == []
    hidden = run_app(accumulate="true", hide="accumulate")
    assert not hidden.exception and not any("retain_graph" in block.value for block in hidden.code)
