"""Every limit the explorer enforces, in one place.

The page is public and all sessions share one Python process, so each limit
bounds work that happens *before* any tensor, graph or sympy expression is
built. The README's "Safety" table is written from these values.
"""

# The x field: a number or a nested list of numbers.
MAX_X_CHARS = 1_000_000  # about 10^5 elements written as "0.1234,"
MAX_X_ELEMENTS = 100_000
MAX_X_RANK = 4  # a batch of matrices is rank 3

# The layers field: one assignment per line.
MAX_LAYERS_CHARS = 4_000
MAX_LINE_CHARS = 400
MAX_LAYERS = 12
MAX_NAME_CHARS = 24

# One expression, after parsing.
MAX_EXPR_NODES = 120  # per line
MAX_EXPR_DEPTH = 24  # per line
MAX_TOTAL_NODES = 400  # across all lines: bounds the autograd graph
MAX_BRACKET_DEPTH = 24  # checked on the raw text, before ast.parse sees it

# Numbers in formulas.
MAX_LITERAL_DIGITS = 20  # digits in one numeric literal, before it is converted
MAX_ABS_LITERAL = 1e9
MAX_ABS_EXPONENT = 100  # a constant exponent of **

# The plot: samples along the curve, and values drawn.
PLOT_SAMPLES = 201
PLOT_SLIDER_STEPS = 41

# Symbolic maths runs in a worker process with these budgets.
SYMBOLIC_SECONDS = 2.0
SYMBOLIC_MEMORY_BYTES = 1_500_000_000
MAX_LATEX_CHARS = 5_000
