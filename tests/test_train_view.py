"""The "Train" section: its figures and step lines against hand values, its settings from a link, and the page."""

import json

import pytest

from explorer import explore, train
from explorer.engine.cost import training_cost
from explorer.page.presets import BY_KEY
from explorer.views.train_figures import curve_along, loss_spec, path_spec, step_lines, trained_lines
from tests.app_page import open_link
from tests.test_training import MLP_LAYERS, MLP_X

SQUARE = {"x": "0.0", "layers": "loss = (x - 3)**2"}


def descent(steps=30, lr=0.1):
    return train(SQUARE["x"], SQUARE["layers"], steps=steps, lr=lr)


def test_a_step_shows_p_its_grad_and_the_update_sgd_made():
    # loss = (x - 3)²: at x = 0 the grad is 2(0 - 3) = -6, and SGD moves x by -0.1 · -6 = 0.6
    lines = step_lines(descent(), 0)
    assert lines == ["# step 0: loss 9 -> 5.76", "x = tensor(0.)", "x.grad = tensor(-6.)", "update = tensor(0.6000)"]
    assert step_lines(descent(), 1)[1:] == ["x = tensor(0.6000)", "x.grad = tensor(-4.8000)", "update = tensor(0.4800)"]


def test_the_last_point_shows_the_values_alone_and_the_trained_values_reach_3():
    run = descent()
    assert step_lines(run, 30) == ["# after 30 steps: loss 1.37927e-05", "x = tensor(2.9963)"]
    assert trained_lines(run) == ["x = tensor(2.9963)"]  # 3 (1 - 0.8^30)


def test_one_trained_element_walks_down_the_functions_own_curve():
    run = descent()
    t, loss = curve_along(explore(SQUARE["x"], SQUARE["layers"]), run, "sum")
    assert t[0] == pytest.approx(-0.5) and t[-1] == pytest.approx(3.4963, abs=1e-3)  # padded by 0.5 each side
    assert all(value == pytest.approx((u - 3) ** 2, rel=1e-5, abs=1e-5) for u, value in zip(t, loss, strict=True))
    curve, steps = path_spec(run, (t, loss))["data"]
    assert steps["x"][:3] == pytest.approx([0, 0.6, 1.08]) and steps["y"][:3] == pytest.approx([9, 5.76, 3.6864])


def test_many_trained_elements_each_get_a_path_and_no_curve():
    run = train(MLP_X, MLP_LAYERS, steps=5, lr=0.1)
    assert curve_along(explore(MLP_X, MLP_LAYERS), run, "sum") is None
    traces = path_spec(run)["data"]
    assert [trace["name"] for trace in traces][:2] == ["W1[0, 0]", "W1[0, 1]"] and len(traces) == 12 + 4
    assert traces[-1]["y"][0] == pytest.approx(0.1)  # W2[3] as written


def test_the_loss_curve_has_a_point_per_loss_and_a_log_scale_when_asked():
    run = descent(steps=3)
    spec = loss_spec(run, log=True)
    assert spec["data"][0]["y"] == pytest.approx([9, 5.76, 3.6864, 2.359296], rel=1e-6)
    assert spec["layout"]["yaxis"]["type"] == "log" and loss_spec(run)["layout"]["yaxis"]["type"] == "linear"


def test_a_diverged_run_draws_its_finite_losses_only():
    run = descent(steps=100, lr=1.5)  # each step doubles the distance to 3
    assert run.note == "diverged at step 63"
    assert loss_spec(run)["data"][0]["y"][-1] is None


def test_training_costs_steps_times_the_work_and_the_trained_elements():
    result = explore(MLP_X, MLP_LAYERS)
    work = training_cost(result.cost.elements, result.work, 16, 20)
    assert work.work == 20 * (result.work + 16)


def charts(app):
    return {json.loads(chart.proto.spec)["layout"]["title"]["text"]: json.loads(chart.proto.spec)
            for chart in app.get("plotly_chart")}


def test_a_link_opens_the_section_with_its_settings_and_the_slider_moves_through_the_steps():
    app = open_link(**SQUARE, train="true", lr="0.1", steps="30", optimizer="sgd", train_step="1")
    assert not app.exception
    titles = charts(app)
    assert "loss: 9 → 1.37927e-05" in titles and "the path of x down the loss" in titles
    code = [block.value for block in app.code]
    assert any(block.startswith("# step 1: loss 5.76 -> 3.6864") for block in code)
    assert "x = tensor(2.9963)" in code
    app.slider(key="train_step").set_value(2).run()
    assert any(block.startswith("# step 2: loss 3.6864 -> 2.3593") for block in (code.value for code in app.code))


def test_adam_from_a_link_is_torch_optims_adam():
    app = open_link(**SQUARE, train="true", lr="0.5", steps="10", optimizer="adam")
    expected = train(SQUARE["x"], SQUARE["layers"], steps=10, lr=0.5, optimizer="adam").values[-1]["x"]
    assert f"x = tensor({float(expected):.4f})" in [block.value for block in app.code]


@pytest.mark.parametrize(("key", "value"), [("lr", "nan"), ("lr", "-1"), ("lr", "0"), ("lr", "fast"),
                                            ("steps", "-5"), ("steps", "501"), ("optimizer", "evil")])
def test_a_bad_setting_gets_a_notice_and_nothing_else_is_lost(key, value):
    app = open_link(**SQUARE, train="true", **{key: value})
    assert not app.exception
    assert any(warning.value.startswith(key) for warning in app.warning)
    # the defaults, 20 steps of SGD at 0.1: 3 (1 - 0.8^20)
    assert "x = tensor(2.9654)" in [block.value for block in app.code]


def test_a_diverging_rate_says_where_it_diverged():
    app = open_link(**SQUARE, train="true", lr="1.5", steps="100")
    assert not app.exception
    assert any("diverged at step 63" in warning.value for warning in app.warning)


def test_a_run_over_the_work_limit_is_refused_in_place():
    app = open_link(x=str([0.5] * 5000), layers="y = x**2", train="true", steps="500")
    assert not app.exception
    assert any("500 steps" in error.value and "over" in error.value for error in app.error)


# ---------------------------------------------------------------- the training examples


def preset_run(key):
    preset = BY_KEY[key]
    return train(preset.x, preset.layers, steps=int(preset.steps), lr=float(preset.lr), optimizer=preset.optimizer)


def test_the_tanh_net_presets_loss_decreases_as_its_note_says():
    run = preset_run("tanh_net")
    assert run.params == ("W1", "W2") and run.note == ""
    assert run.losses[0] == pytest.approx(3.7162, abs=1e-4) and run.losses[-1] == pytest.approx(0.0109, abs=1e-4)
    assert all(later < earlier for earlier, later in zip(run.losses, run.losses[1:], strict=False))


def test_the_descent_preset_reaches_3_and_the_divergence_preset_diverges():
    assert float(preset_run("descent").values[-1]["x"]) == pytest.approx(3, abs=0.005)
    assert preset_run("divergence").note == "diverged at step 63"


def test_choosing_a_training_example_brings_its_settings_and_another_brings_the_defaults():
    app = open_link(train="true")
    app.selectbox(key="preset").set_value(BY_KEY["divergence"].title).run()
    assert app.text_input(key="lr").value == "1.5" and app.text_input(key="steps").value == "100"
    assert any("diverged at step 63" in warning.value for warning in app.warning)
    app.selectbox(key="preset").set_value(BY_KEY["descent"].title).run()
    assert app.text_input(key="lr").value == "0.1" and "x = tensor(2.9963)" in [block.value for block in app.code]
    app.selectbox(key="preset").set_value(BY_KEY["sigmoid"].title).run()
    assert (app.text_input(key="lr").value, app.text_input(key="steps").value) == ("0.1", "20")


def test_a_link_naming_a_training_example_gets_its_settings_unless_it_names_its_own():
    title = BY_KEY["tanh_net"].title
    app = open_link(preset=title, train="true")
    assert (app.text_input(key="lr").value, app.text_input(key="steps").value) == ("0.1", "40")
    assert "loss: 3.7162 → 0.0109341" in charts(app)
    own = open_link(preset=title, train="true", steps="5", optimizer="adam")
    assert (own.text_input(key="steps").value, own.selectbox(key="optimizer").value) == ("5", "adam")


def test_under_a_vector_the_section_says_training_needs_a_loss_and_draws_no_run():
    app = open_link(**SQUARE, vector="2", reduction="vector", train="true", steps="5")
    assert not app.exception
    assert app.segmented_control(key="reduction").value == "vector", "the link's vector and its chooser held"
    assert any("Training minimises one number" in info.value for info in app.info)
    assert "loss_plot" not in [chart.key for chart in app.get("plotly_chart") if hasattr(chart, "key")]
    assert not any("No training" in error.value for error in app.error)
