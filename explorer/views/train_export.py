"""The Train section's run as a runnable script and a notebook: the loop a course writes, with torch.optim.

The leaves and the forward pass are the export's own lines (explorer.views.export.forward_code: written from the
parsed tree, never from the typed text), inside a function that returns the loss; the loop then does what
explorer.engine.training.train does, step for step, and prints each loss as Python prints the float, so the
numbers are the page's. A loss that turns inf or nan stops the loop with the page's note.
"""


from explorer.engine.language import INPUT_NAME
from explorer.engine.training import LOSSES
from explorer.views.export import forward_code, new_notebook, notebook_file

# Each optimizer as explorer.engine.training.OPTIMIZERS builds it, written out.
OPTIMIZER_CODE = {
    "sgd": "torch.optim.SGD({params}, lr={lr!r})",
    "momentum": "torch.optim.SGD({params}, lr={lr!r}, momentum=0.9)",
    "adam": "torch.optim.Adam({params}, lr={lr!r})",
}
# The names the loop itself uses, as globals: only a leaf could clash (the layers are the loss function's locals,
# and a leaf is never called torch or math: explorer.views.export renames it).
LOOP_NAMES = ("optimizer", "loss_of", "step", "loss")


def _free(names, taken):
    """Each of `names`, with "_" added until it is not one of `taken`: a leaf called `step` keeps its name."""
    free = {}
    for name in names:
        new = name
        while new in taken:
            new += "_"
        taken.add(new)
        free[name] = new
    return free


def training_cells(program, x, steps, lr, reduction, optimizer):
    """The run as ("markdown" | "code", text) pairs: imports, leaves and optimizer, the loss function, the loop."""
    _, forward = forward_code(program, x)
    names = {page: code for page, code, _ in forward}
    trained = [leaf.name for leaf in program.leaves] or [INPUT_NAME]  # as train's params=None chooses
    leaf_lines = [line for page, _, lines in forward[: 1 + len(program.leaves)] for line in lines]
    layer_lines = [line for _, _, lines in forward[1 + len(program.leaves):] for line in lines]
    n = _free(LOOP_NAMES, {names[name] for name in (INPUT_NAME, *(leaf.name for leaf in program.leaves))})
    params = "[" + ", ".join(names[name] for name in trained) + "]"
    made = OPTIMIZER_CODE[optimizer].format(params=params, lr=lr)
    output = names[program.output.name]
    body = "\n".join("    " + line for line in layer_lines)
    loss_function = (f"def {n['loss_of']}():\n    \"\"\"A fresh forward pass, reduced to the loss.\"\"\"\n{body}\n"
                     f"    return {output}.{LOSSES[reduction]}()")
    loss, step = n["loss"], n["step"]
    loop = "\n".join([
        f"for {step} in range({steps} + 1):",
        f"    {n['optimizer']}.zero_grad()",
        f"    {loss} = {n['loss_of']}()",
        f'    print(f"step {{{step}}}: loss {{{loss}.item()!r}}")',
        f"    if not math.isfinite({loss}.item()):",
        f'        print(f"diverged at step {{{step}}}")',
        "        break",
        f"    if {step} == {steps}:",
        "        break",
        f"    {loss}.backward()",
        f"    {n['optimizer']}.step()",
        "",
        *[f'print("{names[name]} =", {names[name]})' for name in trained],
    ])
    words = (f"Training with `{made.split('(')[0]}`: each step is `optimizer.zero_grad()`, a forward pass, "
             f"`loss.backward()`, `optimizer.step()`; {steps} steps at lr {lr!r}, the loss reduced by "
             f"`.{LOSSES[reduction]}()`. It prints the losses the explorer's Train section shows.")
    return [("markdown", words), ("code", "import math\n\nimport torch"),
            ("code", "\n".join([*leaf_lines, f"{n['optimizer']} = {made}"])),
            ("code", loss_function), ("code", loop)]


def training_script(program, x, steps, lr, reduction, optimizer):
    """The run as a script: python prints one line per loss, then the trained values."""
    code = [text for kind, text in training_cells(program, x, steps, lr, reduction, optimizer) if kind == "code"]
    header = "# Exported from the autograd graph explorer: the training loop, with torch.optim."
    return "\n\n".join([header, *code]) + "\n"


def training_notebook(program, x, steps, lr, reduction, optimizer):
    """The same code as training_script, as an nbformat v4 notebook's text."""
    return notebook_file(new_notebook(training_cells(program, x, steps, lr, reduction, optimizer)))
