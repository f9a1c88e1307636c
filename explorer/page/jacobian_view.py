"""The folded sections of issue 19: "The Jacobian" (backward is a vector-Jacobian product) and "Calling backward
twice". Each takes the exploration and the rerun's Selection as parameters; none reads the session."""

import streamlit as st

from explorer.engine.errors import FormulaError
from explorer.page.common import drawn_safely, markdown_text
from explorer.serving import facade
from explorer.views.accumulate import twice_codes
from explorer.views.jacobian import heatmap, numbers, passes_sentence, reading_text

JACOBIAN_TITLE = "The Jacobian: backward is a vector-Jacobian product"


def _check_table(check):
    import pandas  # here, not at the top: 0.5 s of a cold start's first page, which shows no table

    rows = [{"column": row.label, "|reverse - forward|": f"{row.forward:.2g}",
             "|reverse - finite diff.|": f"{row.finite_difference:.2g}",
             "": {True: "✓", False: "✗", None: "·"}[row.ok]} for row in check.columns]
    return pandas.DataFrame(rows)


@drawn_safely
def jacobian(result, selection):
    """J of the output by the chosen element's leaf, every way of starting backward as vᵀJ, one forward-mode
    column beside one backward row, and the check that reverse mode, forward mode and finite differences agree."""
    name = selection.element.leaf
    try:
        view = facade.jacobian(result, name)
    except FormulaError as error:  # over the Jacobian's limits: said here, the rest of the page holds
        st.info("**No Jacobian here:** " + markdown_text(str(error)))
        return
    output = view.output
    other = " (choose an element of another leaf to see its J)" if len(result.leaves) > 1 else ""
    st.markdown(f"Each entry is ∂{output}[i] / ∂{name}[j]: a row per element of `{output}`, a column per element "
                f"of `{name}`, the leaf of the chosen element `{selection.element.label}`{other}.")
    st.plotly_chart(heatmap(view), width="stretch", config={"displaylogo": False}, key="jacobian_heatmap")
    st.markdown(f"**Every way of starting backward is vᵀJ.** `{output}.backward(gradient=v)` leaves in "
                f"`{name}.grad` the v-weighted sum of J's rows: sum and ones_like are v of ones, mean is v of 1/N, "
                "a typed vector is v itself.")
    st.code(reading_text(view), language=None)
    if view.diagonal:
        st.markdown(view.diagonal)
    one = facade.one_pass(result, name, selection.element.flat)
    left, right = st.columns(2)
    left.markdown(f"**Forward mode, one pass** (`jvp`, u one-hot at `{one.column_label}`): J's column "
                  f"`{one.column_label}`")
    left.code(numbers(one.column, most=12), language=None)
    right.markdown(f"**Reverse mode, one pass** (`backward`, v one-hot at `{one.row_label}`): J's row "
                   f"`{one.row_label}`")
    right.code(numbers(one.row, most=12), language=None)
    st.markdown(passes_sentence(one, name, output))
    check = view.check
    mark = {True: "✓ agree", False: "✗ DISAGREE", None: "- nothing comparable"}[check.passed]
    st.markdown(f"**Check: reverse = forward = finite difference**, column by column: {mark}")
    st.table(_check_table(check), hide_index=True)
    if check.sampled:
        st.caption(f"A sample: {len(check.columns)} evenly spaced of the {check.total:,} columns, each by its own "
                   "forward-mode pass and a float64 central difference.")
    else:
        st.caption("Each column by its own forward-mode pass and a float64 central difference.")


ACCUMULATE_TITLE = "Calling backward twice: .grad accumulates"


@drawn_safely
def backward_twice(result, selection):
    """Three runs, for real, of backward twice the way the chooser starts it: retained, freed, zeroed."""
    twice = facade.twice(result, selection.reduction)
    retained, freed, zeroed = twice_codes(result, twice)
    st.markdown("Each run starts from a fresh forward pass. **Twice with `retain_graph=True`, no zeroing:** torch "
                "adds each pass into `.grad`, so every `.grad` doubles.")
    st.code(retained, language="python")
    st.markdown("**Twice without `retain_graph`:** after the first pass torch frees what the graph saved for "
                "backward (see *What backward keeps* on the graph), and says so:")
    st.code(freed, language="python", wrap_lines=True)
    st.markdown("**`.grad.zero_()` in between** (what `optimizer.zero_grad()` does): the grads of one pass. "
                "A training loop zeroes before every backward for this reason.")
    st.code(zeroed, language="python")
