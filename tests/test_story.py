"""Issue 18: the page explains why, not only what. Each backward step gives its local rule with the numbers, in
the form torch computes it; gradients that meet are shown meeting; long subexpressions get short names."""

import re

import pytest
import torch

from explorer.engine.exploration import explore
from explorer.engine.tree import is_elementwise
from explorer.page import presets
from explorer.views.texts import step_lines
from tests.app_page import open_link


def unfolded(text):
    """A step's text with its folded lines joined back: `a\n      = b` is `a = b` (texts._folded)."""
    return re.sub(r"\n +(?=\(from )", "   ", re.sub(r"\n += ", " = ", text))


def steps(key, reduction="sum", folded=False):
    preset = presets.BY_KEY[key]
    result = explore(preset.x, preset.layers)
    count = len(result.reductions[reduction].steps)
    texts = ["\n".join(step_lines(result, reduction, n, 0)) for n in range(1, count + 1)]
    return texts if folded else [unfolded(text) for text in texts]


def step_of(key, op, reduction="sum", which=0):
    return [text for text in steps(key, reduction) if text.split("\n")[0].endswith(op)][which]


# ---------------------------------------------------------------- 1. the local rule, with the numbers


def test_neuron_tanh_step_says_one_minus_o_squared_is_a_half():
    tanh = step_of("neuron", "TanhBackward0")
    assert "gradient · (1 − o²) = 1 · 0.5 = 0.5" in tanh
    assert "1 − o² = 0.5, with o = 0.7071" in tanh


def test_neuron_dot_step_gives_x_half_of_w_and_w_half_of_x():
    dot = step_of("neuron", "DotBackward0")
    assert "to x: gradient · w = 0.5 · [-3, 1] = [-1.5, 0.5]" in dot
    assert "to w: gradient · x = 0.5 · [2, 0] = [1, 0]" in dot


def test_matmul_step_gives_w_an_outer_product_and_x_the_transpose_product():
    mv = step_of("softmax_cross_entropy", "MvBackward0")
    assert "to W: outer(gradient, x) = outer([0.09, -0.7553, 0.6652], [1, 2]) = " \
           "[[0.09, 0.1801], [-0.7553, -1.5105], [0.6652, 1.3305]]" in mv
    assert "to x: Wᵀ @ gradient = [[1, 0], [0, 1], [1, 1]]ᵀ @ [0.09, -0.7553, 0.6652] = [0.7553, -0.09]" in mv


def test_sum_broadcasts_the_gradient_and_mean_divides_it_by_n():
    summed = step_of("softmax_cross_entropy", "SumBackward0", which=1)  # sum(p*detach(...)) inside loss
    assert "gradient broadcast to every element (3 elements) = -4.0862 to each = [-4.0862, -4.0862, -4.0862]" \
        in summed
    mean = step_of("linear_mse", "MeanBackward0")  # the formula's mean((h - target)**2)
    assert "gradient ÷ N, broadcast to every element (2 elements) = 1 ÷ 2, to each of 2 = [0.5, 0.5]" in mean


def test_elementwise_steps_multiply_by_elements_and_name_their_factor():
    power = step_of("linear_mse", "PowBackward0")
    assert "gradient ⊙ (2·(h - target)) = [0.5, 0.5] ⊙ [0.9242, -0.3327] = [0.4621, -0.1663]" in power
    assert "⊙ multiplies element by element" in power
    multiply = step_of("softmax_cross_entropy", "MulBackward0")
    assert "to p: gradient ⊙ detach([0.0, 1.0, 0.0]) = [-4.0862, -4.0862, -4.0862] ⊙ [0, 1, 0] = [0, -4.0862, 0]" \
        in multiply
    bias = step_of("shared_bias", "MulBackward0", which=1)  # 2*x: the number is named as written
    assert "to x: gradient ⊙ 2 = " in bias


def test_a_broadcast_bias_is_summed_back_to_its_shape():
    add = step_of("shared_bias", "AddBackward0")
    assert "to b: gradient · 1, summed to b's shape (3,) (broadcasting) = sum of [[1, 1, 1], [1, 1, 1]] = [2, 2, 2]" \
        in add


def test_a_vector_times_a_matrix_names_torchs_inner_steps_and_a_tensor_power_its_exponent():
    result = explore("[1.0, 2.0]", "W = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]\ny = x @ W")  # x.unsqueeze(0).mm(W)
    texts = [unfolded("\n".join(step_lines(result, "sum", n, 0))) for n in range(1, 7)]
    mm = next(text for text in texts if "MmBackward0" in text.split("\n")[0])
    assert "  (x as a matrix) @ W\n" in mm and "MmBackward0\n  MmBackward0" not in mm
    assert "to x as a matrix: gradient @ Wᵀ = [[1, 1, 1]] @ [[1, 2, 3], [4, 5, 6]]ᵀ = [[6, 15]]" in mm
    assert "to W: (x as a matrix)ᵀ @ gradient" in mm
    power = unfolded("\n".join(step_lines(explore("[1.0, 2.0]", "w = [1.0, 1.0]\ny = x**(w*2)"), "sum", 2, 0)))
    assert "to x: gradient ⊙ ((w*2)·x^((w*2) − 1)) = [1, 1] ⊙ [2, 4] = [2, 4]" in power, power
    assert "to w*2: gradient ⊙ (x^(w*2) · ln x) = [1, 1] ⊙ [0, 2.7726] = [0, 2.7726]" in power, power


def test_every_op_a_preset_uses_has_a_rule():
    from explorer.views.local_rules import RULES

    for preset in presets.PRESETS:
        result = explore(preset.x, preset.layers)
        reduction = result.reductions["sum"]
        ops = {reduction.nodes[step.node].op for step in reduction.steps} - {"AccumulateGrad"}
        assert ops <= set(RULES), (preset.key, ops - set(RULES))


# ---------------------------------------------------------------- 2. gradients that meet


def test_cross_entropy_scores_show_the_two_paths_meeting_as_p_minus_onehot():
    mv = step_of("softmax_cross_entropy", "MvBackward0")
    assert "d out / d (s) = [0.09, 0.2447, 0.6652] + [0, -1, 0] = [0.09, -0.7553, 0.6652]" in mv
    assert "s is used 2 times; where paths meet, gradients add" in mv
    assert "  from exp(s), step 8, via sum(exp(s)):\n    [0.09, 0.2447, 0.6652]" in mv
    assert "  from exp(s), step 9, via p:\n    [0, -1, 0]" in mv


def test_a_tensor_read_twice_by_one_op_names_each_operand():
    add = step_of("shared_bias", "AddBackward0", which=1)  # h = 2*x + b, which h*h reads twice
    assert "from h*h, step 3, operand 1:" in add and "from h*h, step 3, operand 2:" in add


def test_explanations_never_print_a_negative_zero():
    from explorer.views.local_rules import number, short

    assert number(-0.0) == "0" and number(-0.00001) == "-1e-05" and number(-0.00004) == "-4e-05"
    assert short(torch.tensor([-0.0, -1.0, -0.0])) == "[0, -1, 0]"
    for key in ("softmax_cross_entropy", "relu_kink", "neuron"):
        for text in steps(key):
            assert not re.search(r"(?<![\d.])-0(?![.\d])", text), text
    from explorer.views.graph import annotated_dot

    preset = presets.BY_KEY["softmax_cross_entropy"]  # p*onehot's gradient is [-0., -4.0862, -0.] in torch
    for at in (None, 0):
        dot = annotated_dot(explore(preset.x, preset.layers), "sum", at=at)
        assert not re.search(r"(?<![\d.])-0\.(?!\d)", dot), dot


def test_long_subexpressions_are_named_short_and_placed_in_their_layer():
    texts = steps("softmax_cross_entropy")
    for text in texts:
        for name in re.findall(r"d out / d \((.*?)\) =", text):
            assert len(name) <= 24, name
    log = step_of("softmax_cross_entropy", "LogBackward0")
    assert "log(sum(p*detach(…))), in loss" in log
    assert "d out / d (log(sum(p*detach(…)))) = -1" in log


def test_long_lines_fold_before_their_equals_signs_not_inside_a_tensor():
    for key in ("neuron", "softmax_cross_entropy", "linear_mse"):
        for text in steps(key, folded=True):
            for line in text.split("\n")[2:]:  # after the step and its heading (the layer as the user wrote it)
                if len(line) > 40:  # only a single tensor, a rule in words, or a sentence may run on
                    assert line.lstrip().startswith(("= ", "to ", "where ", "(from")) or line.count(" = ") == 0, line
    mv = step_of("softmax_cross_entropy", "MvBackward0")
    folded = [text for text in steps("softmax_cross_entropy", folded=True) if "MvBackward0" in text][0]
    assert "  gradient in: d out / d (s)\n  = [0.09, 0.2447, 0.6652] + [0, -1, 0]\n  = [0.09, -0.7553, " \
           "0.6652]" in folded
    assert unfolded(folded) == mv


# ---------------------------------------------------------------- the page shows them


def test_the_page_step_through_shows_the_meeting_and_the_rule():
    preset = presets.BY_KEY["softmax_cross_entropy"]
    app = open_link(preset=preset.title, x=preset.x, layers=preset.layers, backward_step="10")
    assert not app.exception, [e.value for e in app.exception]
    shown = "\n".join(block.value for block in app.code)
    assert "[0.09, 0.2447, 0.6652] + [0, -1, 0]" in shown and "outer(gradient, x)" in shown


# ---------------------------------------------------------------- 4. the exported notebook's prose


def _backward_prose(preset):
    """The notebook's markdown under each way backward starts: reduction name -> its words."""
    from explorer.views.export import export_notebook

    cells = [cell.source for cell in export_notebook(preset.x, preset.layers).cells if cell.cell_type == "markdown"]
    prose = {}
    for text in cells:
        if text.startswith("## Backward with"):
            name = "ones_like" if "ones_like" in text.split("\n")[0] else text.split(".")[1].split("(")[0]
            prose[name] = text
    return prose


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.key)
def test_notebook_prose_says_what_its_own_numbers_show(preset):
    result = explore(preset.x, preset.layers)
    prose = _backward_prose(preset)
    assert set(prose) == {"sum", "mean", "ones_like"}
    count = result.output.numel()
    divided = re.search(r"divided by (\d+)", prose["mean"])
    if result.scalar_output:
        assert divided is None and all("is a single number" in words for words in prose.values()), prose
        for leaf, grad in result.leaf_grads["mean"].items():  # "the same as for sum": the numbers agree
            assert torch.allclose(grad, result.leaf_grads["sum"][leaf])
    else:
        assert int(divided[1]) == count, prose["mean"]  # the output's elements, not x's
        assert torch.allclose(result.grads["mean"] * count, result.grads["sum"])
        assert f"over the {count} elements of" in prose["sum"]
    elementwise_words = r"holds $\frac{d" in prose["sum"]
    assert elementwise_words == (is_elementwise(result.program) and not result.scalar_output), prose["sum"]


# ---------------------------------------------------------------- 8. every code block runs as shown

RUN_BLOCKS = """
import contextlib, io, json, sys
forward, blocks = json.load(sys.stdin)
printed = []
for block in blocks:
    namespace, out = {}, io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        exec(forward, namespace)  # a fresh forward pass before each block: .grad never adds up across blocks
    with contextlib.redirect_stdout(out):
        exec(block, namespace)
    printed.append(out.getvalue())
json.dump(printed, sys.stdout)
"""


def _python_blocks(app):
    assert not app.exception, [e.value for e in app.exception]
    return [block.value for block in app.code if block.proto.language == "python"]


@pytest.mark.slow  # over 5 s (--durations): three page runs and two subprocesses per preset
@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.key)
def test_every_code_block_the_page_shows_runs_as_shown(preset):
    """The Forward pass tab's block runs on its own (and so does the exported script); every other block runs
    after a fresh forward pass, as the page says, and prints what its comments show."""
    import json
    import subprocess
    import sys

    link = {"x": preset.x, "layers": preset.layers}
    (forward,) = _python_blocks(open_link(values="Forward pass", **link))
    (layers,) = _python_blocks(open_link(values="Layer gradients", **link))
    *grads, script = _python_blocks(open_link(values="x.grad", export="true", **link))
    assert script.startswith("# Exported from") and len(grads) == 3
    blocks = [*grads, layers]
    assert "retain_grad()" in layers and "backward(" in layers
    ran = subprocess.run([sys.executable, "-c", RUN_BLOCKS], input=json.dumps([forward, blocks]),
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    for block, printed in zip(blocks, json.loads(ran.stdout), strict=True):
        assert "None" not in printed or "# None" in block, (block, printed)
        for line in printed.splitlines():
            assert ("# " + line).rstrip() in block, (line, block)
    standalone = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert standalone.returncode == 0, standalone.stderr


# ---------------------------------------------------------------- 7. the "same number" sentence


def _chain_sentence(**link):
    app = open_link(chain="true", **link)
    assert not app.exception, [e.value for e in app.exception]
    return next(md.value for md in app.markdown if "this is **" in md.value)


def test_same_number_sentence_names_the_step_where_x_grad_arrives():
    neuron = presets.BY_KEY["neuron"]
    sentence = _chain_sentence(x=neuron.x, layers=neuron.layers)
    assert "The same number, three places" in sentence
    assert "step 6 of 7 of the step-through, where `x.grad` receives it" in sentence  # not "the last step"


def test_same_number_sentence_says_float32_precision_and_the_difference():
    # b = 2: tanh saturates, and float32's -0.00402268 sits beside the exact -0.00402285
    sentence = _chain_sentence(x="[2.0, 0.0]", layers="w = [-3.0, 1.0]\nb = 2\no = tanh(x @ w + b)")
    assert "agrees to float32 precision (they differ by " in sentence, sentence
    assert "The same number" not in sentence
    difference = float(re.search(r"differ by ([-0-9.e]+)\)", sentence)[1])
    assert 0 < difference < 1e-6


# ---------------------------------------------------------------- 11. the "Backward from" tooltip


@pytest.mark.parametrize("key, output", [("neuron", "o"), ("softmax_cross_entropy", "loss"), ("two_layers", "z")])
def test_backward_from_tooltip_names_the_real_output_and_says_what_gradient_is(key, output):
    preset = presets.BY_KEY[key]
    app = open_link(x=preset.x, layers=preset.layers)
    assert not app.exception, [e.value for e in app.exception]
    tooltip = app.get("button_group")[0].proto.help
    assert f"out = {output}.sum()" in tooltip and f"out = {output}.mean()" in tooltip
    assert f"{output}.backward(gradient=torch.ones_like({output}))" in tooltip
    assert "`gradient=` is the vector backward starts with" in tooltip
    assert output == "z" or "z.sum()" not in tooltip


# ---------------------------------------------------------------- 12. a stale graph is marked on the graph


def test_after_an_error_the_graph_itself_says_it_is_stale_and_a_fix_clears_it():
    neuron = presets.BY_KEY["neuron"]
    app = open_link(x=neuron.x, layers=neuron.layers)
    assert "STALE" not in app.get("graphviz_chart")[0].proto.spec
    app.text_area(key="layers").set_value(neuron.layers + "\nloss = o +* 2").run()
    assert not app.exception, [e.value for e in app.exception]
    dot = app.get("graphviz_chart")[0].proto.spec
    assert 'label="STALE: the last example that worked, not the current input"' in dot
    assert 'fontcolor="#b00020"' in dot
    assert any("Stale graph" in error.value for error in app.error)
    app.text_area(key="layers").set_value(neuron.layers).run()
    assert "STALE" not in app.get("graphviz_chart")[0].proto.spec
    assert not any("Stale graph" in error.value for error in app.error)


# ---------------------------------------------------------------- 10. the formula-size limit says what it counts


def test_too_many_parts_says_what_a_part_is_the_count_the_place_and_to_split():
    from explorer.engine import limits
    from explorer.engine.errors import FormulaError
    from explorer.engine.parse import parse_layers

    def balanced(count):  # a sum of `count` x's, bracketed in halves: shallow, so only its size is at stake
        return "x" if count == 1 else f"({balanced(count // 2)} + {balanced(count - count // 2)})"

    parse_layers("y = " + balanced(60))  # 60 names and 59 operators: 119 parts
    too_many = "h = 2*x\n  y = " + balanced(61)  # 121 parts: the 121st is the last x
    with pytest.raises(FormulaError) as raised:
        parse_layers(too_many)
    error = raised.value
    assert limits.MAX_EXPR_NODES == 120
    assert (error.line, error.col) == (2, too_many.split("\n")[1].rindex("x") + 1)  # the last x, indent included
    assert "this formula has 121 parts (names, numbers, operators and calls); one line allows 120" in str(error)
    assert "Split it into layers" in str(error)
    assert str(error).startswith(f"line 2, col {error.col}: ")


def test_the_page_shows_the_parts_message_in_full():
    app = open_link(x="[1.0, 2.0]", layers="y = " + "+".join(["sin(x)*x"] * 31))
    assert not app.exception, [e.value for e in app.exception]
    shown = " ".join(error.value for error in app.error)
    assert "parts \\(names, numbers, operators and calls\\)" in shown and "Split it into layers" in shown


# ---------------------------------------------------------------- 3. one rule for a projector's labels


def test_a_projector_graph_shows_x_shaped_tensors_at_the_element_and_others_whole_and_says_so():
    preset = presets.BY_KEY["softmax_cross_entropy"]
    app = open_link(x=preset.x, layers=preset.layers, present="true", element="x[0]")
    assert not app.exception, [e.value for e in app.exception]
    dot = app.get("graphviz_chart")[0].proto.spec
    assert 'label="values and grads at x[0]\\n(tensors not shaped like x: whole)"' in dot
    assert "x\\nvalue 1\\ngrad 0.7553" in dot  # x at x[0]
    assert "s = W @ x\\nMvBackward0\\nvalue [1., 2., 3.]   grad [ 0.09  , -0.7553,  0.6652]" in dot  # s whole, not s[0]
    seed = presets.BY_KEY["two_layers"]
    plain = open_link(x=seed.x, layers=seed.layers, present="true").get("graphviz_chart")[0].proto.spec
    assert 'label="values and grads at x[0, 0]"' in plain  # every tensor is shaped like x: no rule to state
