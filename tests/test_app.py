"""The page through Streamlit's AppTest: no browser, the real script."""

import json
from pathlib import Path

import pytest

from explorer.page import presets
from tests.app_page import APP
from tests.app_page import open_link as run_app


def page_code(app):
    return "\n".join(block.value for block in app.code)


def graph_dot(app):
    return app.get("graphviz_chart")[0].proto.spec


def assert_clean(app):
    assert not app.exception, [e.value for e in app.exception]


def test_seed_page_prints_the_notebook_numbers():
    app = run_app()
    assert_clean(app)
    text = page_code(app)
    assert "tensor(140., grad_fn=<MeanBackward0>)" in text
    # printed as comments under print(x.grad): every block runs as shown after the forward pass
    assert "# tensor([[10., 16., 22.],\n#         [22., 16., 10.]])" in text
    assert "# tensor([[ 60.,  96., 132.],\n#         [132.,  96.,  60.]])" in text
    assert "grad_fn=<AddBackward0>" not in text, "the forward pass is a closed tab: not computed, not sent"
    forward = page_code(run_app(values="Forward pass"))
    # printed as torch prints it, as comments under print(z): the block runs as shown
    assert "# tensor([[ 50., 128., 242.],\n#         [242., 128.,  50.]], grad_fn=<MulBackward0>)" in forward


def test_graph_element_holds_the_seed_ops():
    dot = graph_dot(run_app())
    for op in ("MulBackward0", "AddBackward0", "PowBackward0", "SumBackward0", "AccumulateGrad"):
        assert op in dot


@pytest.mark.parametrize("key", [p.key for p in presets.PRESETS])
def test_every_preset_runs_clean(key):
    app = run_app()
    app.selectbox(key="preset").set_value(presets.BY_KEY[key].title).run()
    assert_clean(app)
    assert not app.error
    preset = presets.BY_KEY[key]
    assert app.text_input(key="x").value == preset.x
    assert app.text_area(key="layers").value == preset.layers
    assert "print(x.grad)" in page_code(app)
    assert app.get("plotly_chart") and app.get("graphviz_chart")


def test_typing_the_scalar_seed_updates_the_numbers():
    app = run_app(values="Forward pass")
    app.text_input(key="x").set_value("2.0").run()
    app.text_area(key="layers").set_value("y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1").run()
    assert_clean(app)
    text = page_code(app)
    assert "tensor(63., grad_fn=<AddBackward0>)" in text
    grads = run_app(x="2.0", layers="y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1")
    assert "tensor(93.)" in page_code(grads)
    assert any("same x.grad" in info.value for info in grads.info)


def test_bad_formula_shows_an_error_and_keeps_the_last_result_marked_stale():
    app = run_app()
    app.text_area(key="layers").set_value("y = 3*x + 2\nz = 2*y**q").run()
    assert_clean(app)
    assert "unknown name 'q'" in app.error[0].value.replace("\\", "")
    assert any("last example that worked" in w.value for w in app.warning)
    assert "tensor(140., grad_fn=<MeanBackward0>)" in page_code(app)
    assert app.text_area(key="layers").value == "y = 3*x + 2\nz = 2*y**q", "the user's text is kept"
    app.text_area(key="layers").set_value("y = 3*x + 2").run()
    assert not app.error and not app.warning


def test_plot_tangent_slope_is_the_selected_elements_gradient():
    app = run_app()
    app.segmented_control(key="reduction").set_value("mean").run()
    app.selectbox(key="element").set_value("x[0, 2]").run()
    assert_clean(app)
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert "slope at the point = 22" in figure["layout"]["title"]["text"]  # 2 * (3*3 + 2)


def test_step_through_reaches_x_grad():
    app = run_app()
    app.segmented_control(key="reduction").set_value("mean").run()
    steps = app.slider(key="backward_step")
    steps.set_value(steps.max).run()
    assert_clean(app)
    assert "x.grad at x[0, 0] = 10" in page_code(app)
    assert "#ffb347" in graph_dot(app), "the current node is highlighted"


def test_a_link_with_x_and_layers_shows_that_example():
    app = run_app(x="0.5", layers="y = sin(x)*exp(x)")
    assert_clean(app)
    assert "SinBackward0" in graph_dot(app)
    assert "tensor(2.2373)" in page_code(app)  # (cos 0.5 + sin 0.5) * exp 0.5


def test_a_hostile_link_shows_an_error_and_no_traceback():
    app = run_app(x="[1,2]", layers="y = ().__class__.__bases__[0].__subclasses__()")
    assert_clean(app)
    assert app.error


def test_a_failing_section_shows_a_short_error_not_a_traceback(monkeypatch):
    import explorer.page.pass_view

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(explorer.page.pass_view, "tangent_figure", broken)
    app = run_app(x="0.125", layers="y = 7*x")  # an input no other test has cached
    assert_clean(app)
    assert any("tangent" in error.value for error in app.error)
    assert "tensor(7.)" in page_code(app), "the other sections still draw"


def test_hosting_config_hides_tracebacks():
    config = (Path(APP).parent / ".streamlit" / "config.toml").read_text()
    assert 'showErrorDetails = "none"' in config and 'toolbarMode = "viewer"' in config


def test_markdown_text_escapes_everything_markdown_and_katex_act_on():
    from explorer.page.common import markdown_text

    hostile = "*bold* _it_ `code` [link](javascript:x) $\\href{x}{y}$ <b>#"
    escaped, shown, i = markdown_text(hostile), [], 0
    while i < len(escaped):  # read it back as Markdown does: a backslash makes the next character literal
        if escaped[i] == "\\":
            shown.append(escaped[i + 1])
            i += 2
        else:
            assert escaped[i] not in "*_`[]()$<>#\\{}", f"unescaped {escaped[i]!r} in {escaped!r}"
            shown.append(escaped[i])
            i += 1
    assert "".join(shown) == hostile


@pytest.mark.parametrize("step, highlighted", [("3", 1), ("0", 0), ("7", 0), ("three", 0)])
def test_a_links_backward_step_is_highlighted_on_the_first_run(step, highlighted):
    app = run_app(reduction="mean", backward_step=step)  # the seed's mean has 6 steps
    assert_clean(app)
    dot = graph_dot(app)
    assert dot.count("#ffb347") == highlighted, "only a valid step of this pass is highlighted"
    if highlighted:
        assert dot.count("#f6d6ff") == 2  # MeanBackward0 and the outer MulBackward0 came before PowBackward0
