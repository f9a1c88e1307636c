"""Sections that are not always needed are lazy: closed, they do no work and send nothing; a link opens them."""


import explorer.serving.facade
from tests.app_page import open_link as run_app


def count_calls(monkeypatch, name):
    calls = []
    original = getattr(explorer.serving.facade, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(explorer.serving.facade, name, counting)
    return calls


def test_closed_sections_run_no_symbolic_maths_and_no_checks(monkeypatch):
    derivations = count_calls(monkeypatch, "symbolic_derivation")
    checks = count_calls(monkeypatch, "verify")
    app = run_app(x="0.3125", layers="y = 5*x**3")  # an input no other test caches
    assert not app.exception
    assert derivations == [] and checks == []
    assert not app.latex and not app.table


def test_a_link_opens_the_chain_rule_and_the_check(monkeypatch):
    derivations = count_calls(monkeypatch, "symbolic_derivation")
    app = run_app(x="0.4375", layers="y = 5*x**3", chain="true", verify="true")
    assert not app.exception
    assert len(derivations) == 1, "one derivation serves both sections"
    assert any("15 x^{2}" in latex.value for latex in app.latex)  # d(5x^3)/dx
    assert len(app.table) == 3  # one check table per reduction


def test_only_the_open_value_tab_is_printed():
    app = run_app()
    text = "\n".join(block.value for block in app.code)
    assert "print(x.grad)" in text and "grad_fn=<AddBackward0>" not in text
    layer_tab = run_app(values="Layer gradients")
    text = "\n".join(block.value for block in layer_tab.code)
    assert "print(y.grad)" in text and "print(x.grad)\n# tensor" not in text


def test_export_code_appears_only_when_the_export_section_is_open():
    assert not any("import torch" in block.value for block in run_app().code)
    opened = run_app(export="true")
    assert any("import torch" in block.value for block in opened.code)


def test_hidden_sections_leave_no_gap_and_unknown_names_get_a_notice():
    app = run_app(hide="graph,plot,bogus")
    assert not app.exception
    assert not app.get("graphviz_chart") and not app.get("plotly_chart")
    assert any("bogus" in warning.value and "not a section" in warning.value for warning in app.warning)
    assert 0.6 not in [column.weight for column in app.columns], "no empty graph column beside the controls"
    assert 1.0 in [column.weight for column in app.columns], "the values take the row the plot left"


def test_a_hidden_editor_draws_no_editor_and_the_links_texts_still_rule():
    app = run_app(hide="editor", x="2.0", layers="y = x**3")
    assert not app.exception
    assert len(app.text_input) == 0 and len(app.text_area) == 0
    assert "tensor(12.)" in "\n".join(block.value for block in app.code)  # 3x^2 at 2


def test_reset_brings_back_the_example():
    app = run_app()
    app.text_area(key="layers").set_value("y = 3*x + 2\nz = 5*y").run()
    app.button(key="reset").click().run()
    assert app.text_area(key="layers").value == "y = 3*x + 2\nz = 2*y**2"
    assert "tensor([[ 60.,  96., 132.]," in "\n".join(block.value for block in app.code)


def test_a_section_refused_by_admission_control_says_the_server_is_busy(monkeypatch):
    from explorer.serving.admission import ServerBusy

    def refuse(*args, **kwargs):
        raise ServerBusy("the server is busy with large examples (test); try again in a moment")

    monkeypatch.setattr(explorer.serving.facade, "verify", refuse)
    app = run_app(x="0.5625", layers="y = 5*x**3", verify="true")
    assert not app.exception and not app.error
    assert any("Server busy" in warning.value for warning in app.warning)
