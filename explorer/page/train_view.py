"""The "Train" section: gradient descent with torch.optim on the typed example, step by step.

It takes the rerun's result, the typed texts and the Selection; its settings are its own widgets (lr, steps,
optimizer), each bound to the link and checked by explorer.page.state before they are drawn. It reads no session.
"""

import functools

import streamlit as st

from explorer.engine import limits
from explorer.engine.errors import FormulaError
from explorer.engine.training import LOSSES, OPTIMIZERS
from explorer.page.common import URL, download, drawn_safely, markdown_text
from explorer.page.state import FIELDS
from explorer.serving import facade
from explorer.views.plot import SpecFigure
from explorer.views.train_figures import MAX_PATHS, loss_spec, path_spec, step_lines, trained_elements, trained_lines

OPTIMIZER_HELP = ("**sgd**: `torch.optim.SGD(params, lr)`, p -= lr · p.grad. **momentum**: `SGD(params, lr, "
                  "momentum=0.9)`. **adam**: `torch.optim.Adam(params, lr)`.")
TRAIN_WORDS = ("Each step is a course's training loop: `optimizer.zero_grad()`, a forward pass, `loss.backward()`, "
               "`optimizer.step()`, with torch.optim's own update. Every declared leaf is trained (x when there is "
               "none: gradient descent on the function); `detach(...)` values stay fixed. The loss is the output "
               "reduced as backward starts: {reduction}.")
UNDER_VECTOR = ("**Training minimises one number, the loss:** `z.backward(gradient=v)` starts backward from a "
                "vector and makes no loss. Choose sum or mean under *Backward from* to train.")


def settings():
    """The learning rate, the steps and the optimizer, as their widgets hold them (already checked by
    explorer.page.state); an empty box is its default, which its placeholder shows."""
    lr_default, steps_default = FIELDS["lr"].default, FIELDS["steps"].default
    left, middle, right = st.columns(3)
    with left:
        lr = st.text_input("Learning rate", key="lr", bind=URL, placeholder=lr_default,
                           help="A finite number above 0, e.g. 0.1 or 1e-3.")
    with middle:
        steps = st.text_input(f"Steps (0 to {limits.MAX_TRAIN_STEPS})", key="steps", bind=URL,
                              placeholder=steps_default)
    with right:
        # No format_func: a bound selectbox writes its shown label into the link, and "adam" would not read back.
        optimizer = st.selectbox("Optimizer", list(OPTIMIZERS), key="optimizer", bind=URL, help=OPTIMIZER_HELP)
    return float(lr or lr_default), int(steps or steps_default), optimizer


@drawn_safely
def train(result, x_text, layers_text, selection):
    lr, steps, optimizer = settings()
    reduction = selection.reduction
    if reduction not in LOSSES:  # "vector": a way of starting backward, not a loss
        st.info(UNDER_VECTOR)
        return
    st.caption(TRAIN_WORDS.format(reduction=reduction))
    try:
        run, along = facade.training(result, x_text, layers_text, steps, lr, reduction, optimizer)
    except FormulaError as error:  # a setting the engine refuses, or a run over its limits: said here, in place
        st.error("**No training:** " + markdown_text(str(error)))
        return
    if run.note:
        st.warning(f"**The loss {run.note}**: it turned inf or nan, and the run stopped there. A smaller learning "
                   "rate takes smaller steps.")
    log = st.toggle("Log scale", key="log_loss", bind=URL)
    left, right = st.columns(2)
    with left:
        st.plotly_chart(SpecFigure(loss_spec(run, log)), width="stretch", config={"displaylogo": False},
                        key="loss_plot")
    with right:
        st.plotly_chart(SpecFigure(path_spec(run, along)), width="stretch", config={"displaylogo": False},
                        key="path_plot")
        count = len(trained_elements(run))
        if along is None and count > MAX_PATHS:
            st.caption(f"The first {MAX_PATHS} of {count:,} trained elements.")
    last = len(run.values) - 1
    if last:
        step = st.slider("Training step", 0, last, key="train_step", bind=URL)
        st.code("\n".join(step_lines(run, step)), language=None)
    st.markdown("**Trained values**")
    st.code("\n".join(trained_lines(run)), language=None)
    exports(result, steps, lr, reduction, optimizer)


def exports(result, steps, lr, reduction, optimizer):
    """The loop as a script and a notebook, written only when a button asks (a callable's data is lazy)."""
    settings_ = (steps, lr, reduction, optimizer)
    left, right = st.columns(2)
    script = functools.partial(facade.training_export, result, "script", *settings_)
    notebook = functools.partial(facade.training_export, result, "notebook", *settings_)
    download(left, "Training script (.py)", script, "training.py", "text/x-python")
    download(right, "Training notebook (.ipynb)", notebook, "training.ipynb", "application/json")
