"""Training: explorer.train against the torch.optim loop a course writes, divergence, and the limits."""

import math

import pytest
import torch

import explorer
from explorer import FormulaError, train
from explorer.engine import limits, training

NEURON_X = "[2.0, 0.0]"
NEURON_LAYERS = "w = [-3.0, 1.0]\nb = 6.8813735870195432\no = tanh(x @ w + b)"
MLP_X = "[[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]"
MLP_LAYERS = (
    "W1 = [[0.1, -0.2, 0.3, 0.0], [0.2, 0.1, -0.1, 0.3], [-0.3, 0.2, 0.1, -0.1]]\n"
    "W2 = [0.2, -0.1, 0.3, 0.1]\n"
    "h = tanh(x @ W1)\n"
    "pred = tanh(h @ W2)\n"
    "loss = (pred - detach([1.0, -1.0, -1.0, 1.0]))**2"
)


def hand_loop(optimizer, lr, steps, reduction):
    """The two-layer net trained as a notebook would: torch.optim, zero_grad, backward, step."""
    x = torch.tensor([[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]])
    target = torch.tensor([1.0, -1.0, -1.0, 1.0])
    W1 = torch.tensor([[0.1, -0.2, 0.3, 0.0], [0.2, 0.1, -0.1, 0.3], [-0.3, 0.2, 0.1, -0.1]], requires_grad=True)
    W2 = torch.tensor([0.2, -0.1, 0.3, 0.1], requires_grad=True)
    if optimizer == "sgd":
        opt = torch.optim.SGD([W1, W2], lr=lr)
    elif optimizer == "momentum":
        opt = torch.optim.SGD([W1, W2], lr=lr, momentum=0.9)
    else:
        opt = torch.optim.Adam([W1, W2], lr=lr)

    def loss_fn():
        loss = (torch.tanh(torch.tanh(x @ W1) @ W2) - target) ** 2
        return loss.sum() if reduction == "sum" else loss.mean()

    losses, grads = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        losses.append(loss.item())
        loss.backward()
        grads.append((W1.grad.clone(), W2.grad.clone()))
        opt.step()
    losses.append(loss_fn().item())
    return losses, grads, (W1.detach(), W2.detach())


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_training_matches_a_torch_optim_loop_written_out(optimizer, reduction):
    t = train(MLP_X, MLP_LAYERS, steps=15, lr=0.05, reduction=reduction, optimizer=optimizer)
    losses, grads, (W1, W2) = hand_loop(optimizer, 0.05, 15, reduction)
    assert t.params == ("W1", "W2") and t.note == ""
    assert len(t.losses) == 16 and len(t.values) == 16 and len(t.grads) == 15
    assert t.losses == pytest.approx(losses, rel=1e-5, abs=1e-6)
    for step, (g1, g2) in enumerate(grads):
        torch.testing.assert_close(t.grads[step]["W1"], g1)
        torch.testing.assert_close(t.grads[step]["W2"], g2)
    torch.testing.assert_close(t.values[-1]["W1"], W1)
    torch.testing.assert_close(t.values[-1]["W2"], W2)


def test_two_layer_net_loss_decreases():
    t = train(MLP_X, MLP_LAYERS, steps=40, lr=0.1, optimizer="adam")
    assert t.losses[-1] < 0.5 * t.losses[0]


def test_values_start_as_written_and_grads_are_the_first_backward():
    t = train(NEURON_X, NEURON_LAYERS, steps=1, lr=0.1)
    torch.testing.assert_close(t.values[0]["w"], torch.tensor([-3.0, 1.0]))
    # micrograd's lecture: w.grad = (1 - o²)·x = [1, 0], b.grad = 0.5; x is data, not trained.
    torch.testing.assert_close(t.grads[0]["w"], torch.tensor([1.0, 0.0]))
    assert t.grads[0]["b"].item() == pytest.approx(0.5, abs=1e-4)
    torch.testing.assert_close(t.values[1]["w"], torch.tensor([-3.1, 1.0]))  # w - 0.1 · w.grad
    assert t.params == ("w", "b")


def test_function_with_no_leaves_descends_towards_3_from_0():
    t = train("0.0", "y = (x - 3)**2", steps=30, lr=0.1)
    assert t.params == ("x",)
    assert t.losses[0] == 9.0
    assert all(b < a for a, b in zip(t.losses, t.losses[1:], strict=False))
    assert t.values[1]["x"].item() == pytest.approx(0.6)  # 0 - 0.1 · 2(0 - 3)
    assert t.values[-1]["x"].item() == pytest.approx(3.0, abs=0.01)


def test_too_large_a_learning_rate_diverges_with_a_note():
    t = train("0.0", "y = (x - 3)**2", steps=100, lr=10.0)
    # x - 3 is multiplied by 1 - 2·10 = -19 at each step: the loss by 361, past float32's 3.4e38 by step 15.
    assert t.note.startswith("diverged at step ")
    k = int(t.note.rsplit(" ", 1)[1])
    assert 10 <= k <= 16
    assert len(t.losses) == k + 1 and len(t.values) == k + 1 and len(t.grads) == k
    assert not math.isfinite(t.losses[-1]) and all(math.isfinite(v) for v in t.losses[:-1])


def test_named_params_only_train_those_in_leaf_order():
    t = train(NEURON_X, NEURON_LAYERS, steps=5, lr=0.1, params=["b", "x"])
    assert t.params == ("x", "b")  # x first, then in declaration order
    assert set(t.values[-1]) == {"x", "b"} and set(t.grads[0]) == {"x", "b"}
    torch.testing.assert_close(t.grads[0]["x"], torch.tensor([-1.5, 0.5]))  # (1 - o²)·w, w fixed


def test_detached_literal_stays_fixed_while_the_leaf_moves():
    # d/dw (w - detach([2.]))² = 2(w - 2): w descends to the constant 2, which does not move to meet it.
    t = train("0.0", "w = [0.0]\nloss = (w - detach([2.0]))**2 + 0*x", steps=60, lr=0.1)
    assert t.params == ("w",)
    assert t.values[-1]["w"].item() == pytest.approx(2.0, abs=1e-3)


def test_a_leaf_the_loss_does_not_reach_keeps_zero_grads_and_its_value():
    t = train("[1.0, 2.0]", "w = [5.0, 6.0]\nc = 2.0\ny = x * c", steps=3, lr=0.1, optimizer="adam")
    torch.testing.assert_close(t.values[-1]["w"], torch.tensor([5.0, 6.0]))
    torch.testing.assert_close(t.grads[0]["w"], torch.zeros(2))
    assert t.grads[0]["c"].item() == 3.0


def test_zero_steps_is_the_loss_as_written():
    t = train("0.0", "y = (x - 3)**2", steps=0)
    assert t.losses == (9.0,) and t.grads == () and len(t.values) == 1


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"lr": float("nan")}, "lr"),
        ({"lr": float("inf")}, "lr"),
        ({"lr": 0}, "lr"),
        ({"lr": -0.1}, "lr"),
        ({"lr": "0.1"}, "lr"),
        ({"steps": -5}, "steps"),
        ({"steps": limits.MAX_TRAIN_STEPS + 1}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"optimizer": "evil"}, "optimizer"),
        ({"reduction": "max"}, "reduction"),
        ({"params": ["q"]}, "params"),
        ({"params": []}, "params"),
    ],
)
def test_bad_settings_are_refused_before_any_work(monkeypatch, settings, field):
    monkeypatch.setattr(training, "run_forward", lambda *args, **kwargs: pytest.fail("ran the program"))
    with pytest.raises(FormulaError) as error:
        train("0.0", "y = (x - 3)**2", **settings)
    assert error.value.field == field


def test_steps_times_work_over_the_work_limit_is_refused_before_any_work(monkeypatch):
    x = "[" + ", ".join(["1.0"] * 10_000) + "]"
    # 10,000 elements, 2 operations and 10,000 trained elements: 30,000 a step, so 66 steps fit and 67 do not.
    assert len(train(x, "y = (x - 3)**2", steps=66).losses) == 67
    monkeypatch.setattr(training, "run_forward", lambda *args, **kwargs: pytest.fail("ran the program"))
    with pytest.raises(FormulaError, match="67 steps"):
        train(x, "y = (x - 3)**2", steps=67)
    assert limits.MAX_TRAIN_STEPS == 500


def test_lazy_export():
    assert explorer.train is train
