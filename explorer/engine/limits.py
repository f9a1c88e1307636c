"""Every limit the explorer enforces, in one place.

The page is public and all sessions share one Python process, so each limit
bounds work that happens *before* any tensor, graph or sympy expression is
built. The README's "Safety" table is written from these values.
"""

# The x field: a number or a nested list of numbers.
MAX_X_CHARS = 1_000_000  # about 10^5 elements written as "0.1234,"
MAX_X_ELEMENTS = 100_000
MAX_X_RANK = 4  # a batch of matrices is rank 3
MAX_X_NUMBER_CHARS = 32  # characters in one number of x, before float() sees it

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

# Element-operations: each operation on tensors counts its result's elements, a matmul its m·n·k
# multiply-adds (explorer.engine.shapes, checked before any tensor is made). For a program of x alone that is
# x's elements times the operations: each makes a tensor the size of x, and backward keeps several per
# operation, three times over (sum, mean, ones_like): about 60 bytes of result per unit of work. Measured
# on 2 CPUs with one torch thread: at this limit 0.1-1.2 s and a 121 MB result;
# before it, 12 layers of 384 operations on 100,000 elements took 2.7-30 s and
# 2-2.5 GB.
MAX_WORK = 2_000_000  # e.g. 100,000 elements and 20 operations, or 7,900 and 252
# Second order (explorer.engine.second_order): the Hessian has one row per leaf element, x's and the leaves'
# together, so this many elements is 10,000 entries; each row is one more backward through the graph of
# backward, so the elements times the program's work also stay within MAX_WORK.
MAX_HESSIAN_ELEMENTS = 100
# Training (explorer.engine.training): each step is a forward and a backward pass, and keeps the trained
# values and their grads; steps times (the work plus the trained elements) stays within MAX_WORK.
MAX_TRAIN_STEPS = 500

# The check of a program with leaves perturbs one element at a time (two forward passes each): above this
# many elements, of x and every leaf together, an evenly spaced sample is judged, and the page says so.
MAX_CHECKED_ELEMENTS = 48
# The chain rule of a program with leaves gives one sympy symbol to each element: above this many, of x and
# every leaf together, the page says it is too large to show symbolically.
MAX_SYMBOLIC_ELEMENTS = 24
# The Jacobian (explorer.engine.jacobian) of the output by one leaf: output elements times leaf elements, refused
# above this before any work. torch computes it in min(output, leaf elements) batched passes, one row (backward)
# or one column (forward mode) each, so at most 100 passes; those passes times the program's work stay within
# MAX_WORK, as the Hessian's rows do.
MAX_JACOBIAN_ENTRIES = 10_000

# Numbers in formulas.
MAX_LITERAL_DIGITS = 20  # digits in one numeric literal, before it is converted
MAX_ABS_LITERAL = 1e9
MAX_ABS_EXPONENT = 100  # a constant exponent of **, and any exact exponent sympy builds after folding
MAX_EXACT_DIGITS = 60  # digits of an exact integer (or a fraction's numerator or denominator) sympy builds

# The plot: samples along the curve, and values drawn.
PLOT_SAMPLES = 201
PLOT_SLIDER_STEPS = 21  # laying out 41 steps cost plotly ~60 ms per redraw
# A program with leaves is run once per sample (explorer.views.plot): its samples together stay within
# MAX_CURVE_WORK element-operations (fewer samples, down to MIN_PLOT_SAMPLES, or no plot), and a batched pass
# holds at most CURVE_CHUNK_BYTES (estimated as admission estimates one pass).
MIN_PLOT_SAMPLES = 41
MAX_CURVE_WORK = 100_000_000
CURVE_CHUNK_BYTES = 32_000_000

# Admission control (explorer.serving.admission): each request's peak memory is estimated from the parsed
# input before it runs. Measured with one torch thread: an exploration peaks at ~300 bytes per element
# of x plus ~60 per element-operation (10^5 elements x 4 operations: +53 MB; 7,575 x 264: +122 MB);
# its check adds ~250 per element plus ~8 per element-operation (+25 MB and +2 MB); parsing x costs
# ~20 bytes per character (1 MB of x: +18 MB).
BYTES_PER_ELEMENT = 300
BYTES_PER_ELEMENT_OPERATION = 60
CHECK_BYTES_PER_ELEMENT = 250
CHECK_BYTES_PER_ELEMENT_OPERATION = 8
PARSE_BYTES_PER_CHAR = 20
SMALL_BYTES = 4_000_000  # a request estimated below this runs at once, never queued behind a heavy one
HEAVY_MEMORY_BYTES = 250_000_000  # estimated peak of the heavy requests running at once: one at MAX_WORK
MAX_HEAVY_QUEUE = 6  # heavy requests waiting; one more is refused at once
HEAVY_WAIT_SECONDS = 10.0  # a heavy request waiting longer than this is refused

# Small reruns take turns, one at a time in arrival order (explorer.serving.turns): a rerun whose exploration
# has at most this many elements (x's and the leaves') and operations per element keeps its turn; a larger one gives
# it up and shares the CPU, so that no small rerun waits behind it. The seed is 6 elements and 4 operations; the presets
# have at most 10 operations.
TURN_MAX_ELEMENTS = 2_000
TURN_MAX_OPERATIONS = 48
TURN_WAIT_SECONDS = 3.0  # a rerun that waited this long for its turn runs anyway
TURN_QUANTUM_SECONDS = 0.25  # a turn held longer than this, while others wait, is given up at the next view (0.05 cost
# a class of 30 sessions 10.5x its single-session p95, against 5.3x at 0.25 and 3.5-4.3x never; the burst's small
# session kept p95 under 1 s at 0.05 and 0.25, not without it: bench/ANALYSIS.md)
HEAVY_DEFER_SECONDS = 1.0  # heavy work waits at most this long for the small reruns, between two of its pieces

# Memory held between reruns: every cache shared by the sessions, in bytes as explorer.serving.cache.deep_size
# counts them (keys, strings, objects, tensor storage). Their sum is the documented total.
CACHE_BUDGETS = {
    "inputs": 4_000_000,  # the raw texts' digest -> parsed input, so a repeated 1 MB x is parsed once
    "explorations": 32_000_000,  # 10^5 elements through a short formula hold ~28 MB; at MAX_WORK ~120 MB,
    # which is served but not kept
    "derivations": 6_000_000,  # symbolic derivations, with their values at every element
    "views": 8_000_000,  # the tangent plot's curves, printed tensors, check tables
    "exports": 6_000_000,  # generated scripts
}
CACHE_BYTES = sum(CACHE_BUDGETS.values())
# Entries, besides bytes, where entries are many small objects: Python's collector walks every object the caches
# hold at each full collection, holding the GIL for every session. Under a class, 430 cached explorations of the
# seed's size (32 MB) were 105,000 objects, and each full collection a 40-56 ms pause every few seconds.
CACHE_MAX_ENTRIES = {"explorations": 64, "inputs": 256}

# Symbolic maths runs in persistent worker processes (explorer/symbolic_pool.py) with these budgets.
# One derivation: the worker interrupts itself after SYMBOLIC_SECONDS (and answers "timeout", staying warm);
# one that has not answered a grace period later (stuck in C code) is killed and replaced.
SYMBOLIC_SECONDS = 2.0
SYMBOLIC_KILL_GRACE_SECONDS = 1.0
# The worker's address space (RLIMIT_AS), set by the worker after its imports and a warm-up derivation,
# which leave it at ~160 MB of address space (88 MB resident) with one BLAS thread; the seed on an x of
# 100,000 elements peaked at 175 MB.
SYMBOLIC_MEMORY_BYTES = 300_000_000
# Workers at once. Each session runs at most one derivation at a time, so with three workers two
# sessions sending traps cannot take the last worker from a third.
SYMBOLIC_WORKERS = 3
SYMBOLIC_IDLE_SECONDS = 20.0  # a worker unused this long exits, giving back its ~90 MB; the next one starts in ~2 s
SYMBOLIC_QUEUE_SECONDS = 30.0  # a derivation waiting longer for a worker answers "busy" (not under normal load)
SYMBOLIC_START_SECONDS = 30.0  # a new worker that is not ready (imports, warm-up) within this is killed
MAX_LATEX_CHARS = 5_000

# ---------------------------------------------------------------- the memory budget
# EXPLORER_MEMORY_BUDGET_MB, read once here: the memory the whole server may use (its RSS with the symbolic
# workers, idle included), in MB of 10^6 bytes (690 MB is 658 MiB), e.g. 690 on Community Cloud's smallest tier.
# Unset, the values above hold. Set, `budgeted` scales the heavy requests' share (HEAVY_MEMORY_BYTES), the caches
# (CACHE_BUDGETS) and the symbolic workers to what is left after the idle server and a headroom. A heavy request
# over its share still runs alone (admission clamps it), so a small budget makes heavy visitors wait or get
# "Server busy" sooner; small reruns never wait. One request at the limits raised the server by 140-165 MiB alone,
# more than a small tier's whole heavy share (the burst of bench/public.py peaked at 665-761 MiB with a budget of
# 690 while only the shares scaled), so the per-request limits that size one request (MAX_WORK, MAX_X_ELEMENTS,
# MAX_X_CHARS) scale by the same factor, never below PER_REQUEST_FLOOR of their defaults: a request over them is
# refused with the limit's own sentence, before any work.
MEMORY_BUDGET_ENV = "EXPLORER_MEMORY_BUDGET_MB"
# Measured on this stack (bench/ANALYSIS.md, issue 17): the server after its first page and torch.func's warm-up
# (serving.facade.warm_up, which every process runs once), torch + streamlit + sympy + plotly imported, holds
# 432 MiB resident (453 MB; 387 MiB before the warm-up existed); each symbolic worker 80-96 MiB once warm.
IDLE_SERVER_BYTES = 453_000_000
SYMBOLIC_WORKER_BYTES = 95_000_000
# What no estimate counts: each session's texts (a 1 MB x is held by its widget, its URL and its messages),
# Streamlit's outgoing messages, and the allocator's slack after heavy work.
MEMORY_HEADROOM_BYTES = 60_000_000
MIN_HEAVY_MEMORY_BYTES = 20_000_000  # below this, every heavy request would run alone anyway
PER_REQUEST_FLOOR = 0.25  # a budget shrinks the per-request limits to a quarter of their defaults at most
PER_REQUEST = ("MAX_WORK", "MAX_X_ELEMENTS", "MAX_X_CHARS")
# The values above, before any budget: what a budget scales down from, never up.
_UNBUDGETED = {"HEAVY_MEMORY_BYTES": HEAVY_MEMORY_BYTES, "SYMBOLIC_WORKERS": SYMBOLIC_WORKERS,
              "CACHE_BUDGETS": dict(CACHE_BUDGETS), "MAX_WORK": MAX_WORK, "MAX_X_ELEMENTS": MAX_X_ELEMENTS,
              "MAX_X_CHARS": MAX_X_CHARS}


def budgeted(budget_bytes):
    """The settings a total memory budget allows: {"HEAVY_MEMORY_BYTES", "CACHE_BUDGETS", "SYMBOLIC_WORKERS"} and
    the per-request limits of PER_REQUEST.

    After the idle server and the headroom, each symbolic worker takes SYMBOLIC_WORKER_BYTES (one at least,
    one more per 250 MB left over, up to the default three); what remains is split between the caches and the
    heavy requests in the defaults' proportion, never above the defaults; the per-request limits scale by the
    same factor as the heavy share, down to PER_REQUEST_FLOOR of their defaults. Raises ValueError when the budget
    cannot hold the idle server, one worker and the smallest heavy share."""
    heavy_default, caches = _UNBUDGETED["HEAVY_MEMORY_BYTES"], _UNBUDGETED["CACHE_BUDGETS"]
    spare = budget_bytes - IDLE_SERVER_BYTES - MEMORY_HEADROOM_BYTES
    workers = int(max(1, min(_UNBUDGETED["SYMBOLIC_WORKERS"], spare // 250_000_000)))
    left = spare - workers * SYMBOLIC_WORKER_BYTES
    default = heavy_default + sum(caches.values())
    scale = min(1.0, left / default)
    heavy = int(heavy_default * scale)
    if heavy < MIN_HEAVY_MEMORY_BYTES:
        least = (IDLE_SERVER_BYTES + MEMORY_HEADROOM_BYTES + SYMBOLIC_WORKER_BYTES
                 + MIN_HEAVY_MEMORY_BYTES * default // heavy_default)
        raise ValueError(f"{MEMORY_BUDGET_ENV}={budget_bytes / 1e6:g} MB cannot hold the idle server "
                         f"(~{IDLE_SERVER_BYTES / 1e6:.0f} MB), a symbolic worker and heavy work: "
                         f"give it {-(-least // 1_000_000)} MB at least")  # rounded up: that many works
    per_request = max(PER_REQUEST_FLOOR, scale)
    return {"BUDGET_BYTES": budget_bytes, "HEAVY_MEMORY_BYTES": heavy, "SYMBOLIC_WORKERS": workers,
            "CACHE_BUDGETS": {name: int(budget * scale) for name, budget in caches.items()},
            **{name: int(_UNBUDGETED[name] * per_request) for name in PER_REQUEST}}


def _budget_from_environment():
    import os

    text = os.environ.get(MEMORY_BUDGET_ENV, "").strip()
    if not text:
        return None
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(f"{MEMORY_BUDGET_ENV} must be a number of megabytes, not {text!r}") from None
    return budgeted(int(megabytes * 1_000_000))


_BUDGETED = _budget_from_environment()
# Set with a budget: heavy work starts only while the server's measured resident memory, with the estimates of the
# heavy work running and its own, stays under this (explorer.serving.admission). The shares above come from
# estimates and from IDLE_SERVER_BYTES; one server on this machine started 53 MiB larger at idle, cause unknown,
# and its burst peaked 53 MiB over a 690 MB budget (bench/ANALYSIS.md, 2026-12-04).
MEMORY_CEILING_BYTES = None
if _BUDGETED is not None:
    MEMORY_CEILING_BYTES = _BUDGETED["BUDGET_BYTES"]
    HEAVY_MEMORY_BYTES = _BUDGETED["HEAVY_MEMORY_BYTES"]
    SYMBOLIC_WORKERS = _BUDGETED["SYMBOLIC_WORKERS"]
    CACHE_BUDGETS = _BUDGETED["CACHE_BUDGETS"]
    CACHE_BYTES = sum(CACHE_BUDGETS.values())
    MAX_WORK, MAX_X_ELEMENTS, MAX_X_CHARS = (_BUDGETED[name] for name in PER_REQUEST)
