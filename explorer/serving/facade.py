"""The one way from the page to the engine and the views: every request is cached, admitted and scheduled here.

One process serves every session, so each request passes the same three gates:
- the caches (explorer.serving.cache), shared by every session and bounded in bytes;
- admission control (explorer.serving.admission): an exploration's Cost (explorer.engine.cost) counts its own
  peak and its heaviest view's (the plot's batched samples, the check), and its reservation lasts as long as the
  result does, so the views of a result run within it: a view never queues for memory behind newer requests
  while its session holds the result it needs, and a heavy link is queued or refused as a whole;
- turns (explorer.serving.turns): small reruns run one at a time in arrival order; a rerun that held its turn
  longer than a quantum gives it up at the next view (TURNS.checkpoint). Heavy work, and every view of a heavy
  exploration, gives its turn up first, and before each piece waits while small reruns run (TURNS.defer).

Nothing runs at import: `start()`, called by the entry script, freezes the start-up objects out of the
collector's scans and starts the memory threads.
"""

import gc
import hashlib
import threading
import time
import weakref

import torch

from explorer.engine import elements
from explorer.engine.accumulate import backward_twice
from explorer.engine.cost import hessian_cost, jacobian_cost, parse_cost, training_cost
from explorer.engine.exploration import prepare, run
from explorer.engine.jacobian import jacobian_passes
from explorer.engine.saved import saved_tensors
from explorer.engine.second_order import double_backward_dot
from explorer.engine.training import train
from explorer.engine.verify import verify
from explorer.serving import memory, network
from explorer.serving.admission import ADMISSION
from explorer.serving.cache import cached
from explorer.serving.turns import TURNS
from explorer.symbolic.client import symbolic_derivation
from explorer.views.export import dot_export, svg_export
from explorer.views.export_vector import exploration_notebook, exploration_script
from explorer.views.graph import with_saved
from explorer.views.jacobian import jacobian_view, one_pass_each
from explorer.views.parabola import curvature as element_curvature
from explorer.views.plot import tangent_curve
from explorer.views.second import second_order
from explorer.views.train_export import training_notebook, training_script
from explorer.views.train_figures import curve_along

MAX_TABLE_ROWS = 24  # rows of the check's tables: the check runs over every element, the page shows these

_started = threading.Lock()
_STARTED = []
_WARMED = []


def start():
    """Once per process, from the entry script: nothing here runs at import."""
    with _started:
        if _STARTED:
            return
        _STARTED.append(True)
    # The libraries' ~260k long-lived objects (torch, sympy, plotly, Streamlit) move out of the collector's
    # scans once, so a full collection no longer costs ~120 ms while every session waits.
    gc.collect()
    gc.freeze()
    memory.start()
    network.no_delay()  # each of a rerun's messages leaves at once, not after the browser's delayed ACK
    # The symbolic workers start with the first derivation (the chain rule and the check are folded at first):
    # three sympy imports at start-up would compete with the first visitor's page for the two cores.


def _warm_torch_func():
    """torch.func's first vmap and grad in a process cost 0.8-1.4 s (measured here); the plot of every program
    with leaves uses both. Paid once, on a tiny function, instead of by the first visitor who opens one.

    Its first call imports ~800 more modules (sympy and torch.fx among them: ~117k objects), after start() froze
    the start-up objects: they are frozen too, or every full collection walks them while each session waits
    (left unfrozen, a cached rerun's server time went from ~30 to 41-55 ms, bench/ANALYSIS.md)."""
    t = torch.ones(3)
    torch.func.vmap(torch.func.grad(lambda u: (torch.sin(u) * u)))(t)
    with torch.no_grad():
        torch.func.vmap(lambda u: torch.sin(u) * u)(t)
    gc.freeze()  # without a collection first: a full one here held the GIL ~70 ms while the first reruns waited


# The warm-up waits this long after the first page's script ends, and then for a quiet moment (no rerun for
# WARM_UP_QUIET_SECONDS). Started at once, its ~1.8 s of imports held the GIL while the event loop sent that page
# and the browser drew it (cold start to the first full page: median 12.95 s, 11.68 s with the wait); started
# during a burst, it held up a small session's edits (bench/ANALYSIS.md).
WARM_UP_DELAY_SECONDS = 5.0
WARM_UP_QUIET_SECONDS = 1.0


def _warm_later():
    time.sleep(WARM_UP_DELAY_SECONDS)
    TURNS.wait_quiet(WARM_UP_QUIET_SECONDS)
    _warm_torch_func()


def warm_up():
    """After the first page is out, from the entry script: warm what a later rerun would otherwise wait for, in
    a thread of its own, once per process, WARM_UP_DELAY_SECONDS later and when no rerun has run for
    WARM_UP_QUIET_SECONDS. Not in start(): the first run's page would share the CPU with it."""
    with _started:
        if _WARMED:
            return
        _WARMED.append(threading.Thread(target=_warm_later, name="torch-func-warm-up", daemon=True))
    _WARMED[0].start()


def turn():
    """The whole rerun in a turn: small reruns run one at a time, in arrival order (explorer.serving.turns)."""
    return TURNS.turn()


def _reserved(work, on_wait=None):
    """Admission control's reservation for work of Cost `work`; raises ServerBusy if it refuses. Heavy work
    gives its turn up first: it may wait in the heavy queue, and it shares the CPU, so small reruns never wait
    behind it."""
    if not work.small:
        TURNS.step_aside()
        TURNS.defer()
    return ADMISSION.reserve(work, on_wait=on_wait)


def _admitted(work, compute, on_wait=None):
    """compute() once admission control lets work of Cost `work` run; raises ServerBusy if it refuses."""
    reservation = _reserved(work, on_wait)
    try:
        return compute()
    finally:
        reservation.release()
        if not work.small:
            memory.trim_soon()


def _within(result, compute):
    """A view of `result`, within the reservation its exploration holds (its Cost counts the heaviest view):
    for a heavy result the turn is given up first, and the heap trimmed after."""
    if result.cost.small:
        return compute()
    TURNS.step_aside()
    TURNS.defer()
    try:
        return compute()
    finally:
        memory.trim_soon()


def _released_and_trimmed(reservation):
    reservation.release()
    memory.trim_soon()


def _text_key(x_text, layers_text, vector=None):
    """The typed texts as a 16-byte digest: a 1 MB x is never a cache key. A vector text is part of it."""
    texts = (x_text, layers_text) if vector is None else (x_text, layers_text, "vector", vector)
    raw = "\0".join(texts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=16).digest()


def explore(x_text, layers_text, on_wait=None, vector=None):
    """One exploration per input, shared by every session: texts that parse alike share one entry.
    A `vector` text adds z.backward(gradient=v), a fourth pass its Cost counts (explorer.engine.exploration).
    Raises FormulaError for a bad input and ServerBusy when admission control refuses it."""
    memory.collect_after(x_text, layers_text)  # the last reruns' megabyte texts wait for a full collection

    def parse():
        return _admitted(parse_cost(x_text, layers_text + (vector or "")),
                         lambda: prepare(x_text, layers_text, vector), on_wait)

    def explore_it():
        # The reservation lasts as long as the result does, not just while it is computed: a session holds
        # its result through its whole run (drawing the graph, the plot, the checks), and a result too large
        # for the cache would otherwise be held by every session at once, unaccounted.
        reservation = _reserved(prepared.cost, on_wait)
        try:
            result = run(prepared)
        except BaseException:
            reservation.release()
            raise
        if reservation.held:
            weakref.finalize(result, _released_and_trimmed, reservation)
        return result

    prepared = cached("inputs", _text_key(x_text, layers_text, vector), parse)
    if not prepared.cost.small:
        TURNS.step_aside()  # computing and drawing it would hold up the small reruns queued behind
    return cached("explorations", prepared.key, explore_it)


def curve(result, flat_index, reduction):
    """The tangent plot's curve: a program with leaves runs once per sample, in chunks its plan sizes
    (explorer.engine.cost.curve_plan). Raises FormulaError when the plot alone is over its limit."""
    TURNS.checkpoint()
    return cached("views", ("curve", result.key, flat_index, reduction),
                  lambda: _within(result, lambda: tangent_curve(result, flat_index, reduction)))


def _jacobian_work(result, name, compute):
    """compute() for a view of the Jacobian of leaf `name`, within the result's reservation and admitted with
    its own Cost: torch.func batches one pass per row or column, whichever are fewer. A Jacobian over its
    limits is a FormulaError (explorer.engine.jacobian) before any work or waiting."""
    passes = jacobian_passes(result, name)
    work = jacobian_cost(result.cost.elements, result.work, passes)
    return _within(result, lambda: _admitted(work, compute))


def jacobian(result, name):
    """The Jacobian view of leaf `name` (explorer.views.jacobian): J, each way of starting backward as vᵀJ,
    the three-way check. Raises FormulaError when J is over its limits."""
    return cached("views", ("jacobian", result.key, name),
                  lambda: _jacobian_work(result, name, lambda: jacobian_view(result, name)))


def one_pass(result, name, flat):
    """One forward-mode column and one backward row of J, for element `flat` of leaf `name`."""
    return cached("views", ("one_pass", result.key, name, flat),
                  lambda: _jacobian_work(result, name, lambda: one_pass_each(result, name, flat)))


def twice(result, way):
    """Calling backward twice, run for real (explorer.engine.accumulate): three runs of a forward and two backward
    passes each, one after the other, so within the peak of one exploration pass its result's Cost counts."""
    return cached("views", ("twice", result.key, way),
                  lambda: _within(result, lambda: backward_twice(result.program, result.x, way, result.vector)))


def derivation(result, owner=None):
    """The symbolic derivation, once per input: a timeout or a refusal is kept like an answer. Only "busy" (no
    worker came free in time) is not: it says nothing about the input. Each owner (a session) runs one derivation
    at a time, and owners take turns, so one page's traps cannot starve another's."""

    def derive():
        with TURNS.aside():  # the worker process does the work: the turn goes on to the next rerun meanwhile
            return symbolic_derivation(result.program, result.x, owner=owner)

    return cached("derivations", result.key, derive, keep=lambda answer: answer.status != "busy")


def verification(result, derivation):
    """Autograd against the symbolic answer and finite differences: two float64 passes per element checked."""
    TURNS.checkpoint()
    usable = derivation if derivation.ok else None
    return cached("views", ("verification", result.key, derivation.status),
                  lambda: _within(result, lambda: verify(result, usable, max_rows=MAX_TABLE_ROWS)))


def view(name, result, build):
    """A text or table drawn from `result` alone (printed tensors, a step's lines), once per input and name."""
    TURNS.checkpoint()
    return cached("views", (name, result.key), build)


def dot(result, reduction, step=None, plain=False, at=None, fold=False):
    """The graph as the page draws it: torchviz's own, or annotated with the current step highlighted, or that
    folded by layer."""
    TURNS.checkpoint()
    return cached("views", ("dot", result.key, reduction, step, plain, at, fold),
                  lambda: _within(result, lambda: dot_export(result, reduction, step, plain, at, fold)))


def saved(result, reduction):
    """What backward keeps (explorer.engine.saved): one fresh forward pass, no backward, within the result's
    reservation (its Cost counts a whole pass)."""
    return cached("views", ("saved", result.key, reduction),
                  lambda: _within(result, lambda: saved_tensors(result.program, result.x, reduction, result.vector)))


def saved_dot(result, reduction, step=None, plain=False, at=None):
    """The graph as dot() draws it, with the saved tensors on it (views.graph.with_saved)."""
    return cached("views", ("saved_dot", result.key, reduction, step, plain, at),
                  lambda: with_saved(dot(result, reduction, step, plain, at), result.reductions[reduction],
                                     saved(result, reduction)))


def script(result):
    TURNS.checkpoint()
    return cached("exports", ("script", result.key), lambda: exploration_script(result))


def notebook(result):
    return exploration_notebook(result)


def svg(dot_source):
    with TURNS.aside():  # Graphviz's dot runs in its own process
        return svg_export(dot_source)


def _view_admitted(result, work, compute):
    """A view whose own Cost `work` may be more than its exploration's: within the result's reservation when it
    fits there, else admitted on its own (a heavy view gives its turn up, and may be queued or refused)."""
    if work.bytes <= result.cost.bytes and (work.small or not result.cost.small):
        return _within(result, compute)
    return _admitted(work, compute)


def hessian(result, reduction):
    """The Hessian's view (explorer.views.second): one backward through backward's graph per leaf element.
    Raises the engine's FormulaError over its limits, before any work."""
    work = hessian_cost(result.cost.elements, result.work, elements.count(result))
    return cached("views", ("hessian", result.key, reduction),
                  lambda: _view_admitted(result, work, lambda: second_order(result, reduction)))


def double_backward(result, reduction):
    """The DOT of the graph that computes the grads with create_graph=True: one pass of it."""
    return cached("views", ("double_backward", result.key, reduction),
                  lambda: _within(result, lambda: double_backward_dot(result, reduction)))


def training(result, x_text, layers_text, steps, lr, reduction, optimizer):
    """(Training, the curve along a one-element path or None): explorer.train on the typed texts (whose
    exploration is `result`), once per input and settings: steps forward and backward passes, admitted with their
    Cost. Raises the engine's FormulaError for a bad setting or
    a run over its limits, before any work; a diverged run is an answer with its note."""
    declared = [tensor.numel() for name, tensor in result.leaves.items() if name != "x"]
    trained = sum(declared) if declared else result.x.numel()
    work = training_cost(result.cost.elements, result.work, trained, steps if isinstance(steps, int) else 0)
    return cached("views", ("train", _text_key(x_text, layers_text), steps, lr, reduction, optimizer),
                  lambda: _view_admitted(result, work, lambda: _trained(result, x_text, layers_text, steps, lr,
                                                                        reduction, optimizer)))


def _trained(result, x_text, layers_text, steps, lr, reduction, optimizer):
    """The run and, when it trains one element, the loss along that element's path (explorer.views.train_figures)."""
    run = train(x_text, layers_text, steps, lr, reduction, optimizer)
    return run, curve_along(result, run, reduction)


def curvature(result, flat_index, reduction):
    """The parabola's h = d²out/dvᵢ² for one element: one double backward (explorer.views.parabola)."""
    return cached("views", ("curvature", result.key, flat_index, reduction),
                  lambda: _within(result, lambda: element_curvature(result, flat_index, reduction)))


def training_export(result, kind, steps, lr, reduction, optimizer):
    """The Train section's run as a script ("script") or a notebook's text ("notebook"), printing its losses."""
    write = training_script if kind == "script" else training_notebook
    return cached("exports", ("train", kind, result.key, steps, lr, reduction, optimizer),
                  lambda: write(result.program, result.x, steps, lr, reduction, optimizer))
