"""The export under a typed vector (issue 19): z.backward(gradient=torch.tensor(...)) and the Jacobian by
torch.autograd.functional.jacobian, run by a plain Python, print the page's own numbers."""

import json

import pytest
import torch

from explorer import explore, jacobian
from explorer.views.export_vector import exploration_notebook, exploration_script
from tests.app_page import open_link as run_app

EXAMPLES = [
    ("[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2", "[[1, 0, -2], [0.5, 3, 0]]"),
    ("[1., 2]", "W = [[1., 2], [3, 4], [5, 6]]\nb = 0.5\nz = exp(W @ x * 0.1) + b", "[1, 0, -2]"),
    ("2.0", "w = [3., 4]\nout = w * x", "[1, 10]"),  # a layer named out: the script renames it out_
]


def printed(answer):
    return {entry["label"]: torch.tensor(entry["values"]).reshape(entry["shape"]) for entry in answer["printed"]}


def notebook_code(result):
    cells = json.loads(exploration_notebook(result))["cells"]
    return "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


@pytest.mark.parametrize("kind", ["script", "notebook"])
@pytest.mark.parametrize(("x", "layers", "vector"), EXAMPLES, ids=range(len(EXAMPLES)))
def test_the_export_prints_the_vector_grads_and_each_jacobian_as_the_page_has_them(script_runner, kind, x, layers,
                                                                                   vector):
    result = explore(x, layers, vector=vector)
    code = exploration_script(result) if kind == "script" else notebook_code(result)
    assert ".backward(gradient=torch.tensor(" in code and "torch.autograd.functional.jacobian(" in code
    values = printed(script_runner.run(code))
    output = result.program.output.name + ("_" if result.program.output.name == "out" else "")
    for leaf in result.leaves:
        torch.testing.assert_close(values[f"{leaf}.grad (vector):"], result.leaf_grads["vector"][leaf])
        torch.testing.assert_close(values[f"d {output} / d {leaf}:"], jacobian(result, leaf))
    torch.testing.assert_close(values["x.grad (mean):"], result.grads["mean"])  # the three ways are all there


def test_without_a_vector_the_export_is_as_before():
    from explorer.views.export import script_for

    result = explore("[1., 2]", "y = x * x")
    assert exploration_script(result) == script_for(result.program, result.x)
    assert "jacobian" not in exploration_script(result)


def test_a_jacobian_over_its_limit_is_left_out_with_a_comment(script_runner):
    x = str([float(i) for i in range(101)])
    result = explore(x, "y = x * 2", vector=x)
    code = exploration_script(result)
    assert "over 10,000 entries: not printed" in code and "functional.jacobian" not in code
    torch.testing.assert_close(printed(script_runner.run(code))["x.grad (vector):"], result.grads["vector"])


def test_the_page_exports_the_vector():
    app = run_app(vector="[[1, 0, -2], [0.5, 3, 0]]", export="true")
    assert not app.exception
    code = "\n".join(block.value for block in app.code)
    assert "z.backward(gradient=torch.tensor([[1.0, 0.0, -2.0], [0.5, 3.0, 0.0]]))  # v" in code
