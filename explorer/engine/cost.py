"""What a request will cost before it runs: one model that admission control and turns both read.

Estimates of peak memory come from the parsed input, at rates measured with one torch thread
(explorer.engine.limits): an exploration peaks at ~300 bytes per element of x and the leaves plus ~60 per
element-operation; its check adds ~250 per element plus ~8 per element-operation; parsing costs ~20 bytes
per character of text. An exploration's cost includes the peak of its heaviest view (the tangent plot's
batched samples, or the check): its reservation is held while the result lives, so a view never queues for
memory behind newer requests while its session holds the result it needs.

The lane is the one meaning of "small": a request within limits.SMALL_BYTES, limits.TURN_MAX_ELEMENTS and
limits.TURN_MAX_OPERATIONS per element runs at once and keeps its turn (explorer.serving.turns); any other is
heavy: it gives its turn up and waits for its share of admission control's budget (explorer.serving.admission).
Bytes alone would let a scalar through 264 operations hold every small rerun's turn for its whole graph.
"""

from dataclasses import dataclass

from explorer.engine import limits
from explorer.engine.tree import is_elementwise


@dataclass(frozen=True)
class Cost:
    elements: int  # of x and every leaf: what the result holds per element-sized tensor
    work: int  # element-operations (a matmul counts m·n·k; explorer.engine.shapes.infer)
    bytes: int  # estimated peak memory
    lane: str  # "small" or "heavy"

    @property
    def small(self):
        return self.lane == "small"


def cost(elements, work, bytes_):
    """A Cost with its lane."""
    operations = work // max(1, elements)
    small = (bytes_ <= limits.SMALL_BYTES and elements <= limits.TURN_MAX_ELEMENTS
             and operations <= limits.TURN_MAX_OPERATIONS)
    return Cost(elements, work, bytes_, "small" if small else "heavy")


def parse_cost(x_text, layers_text):
    return cost(0, 0, (len(x_text) + len(layers_text)) * limits.PARSE_BYTES_PER_CHAR)


def pass_bytes(elements, work):
    """A forward pass and backward three ways, on `elements` elements doing `work` element-operations."""
    operations = work // max(1, elements)
    return elements * (limits.BYTES_PER_ELEMENT + operations * limits.BYTES_PER_ELEMENT_OPERATION)


def check_bytes(elements, work):
    """The finite-difference check: two float64 passes per element checked."""
    operations = work // max(1, elements)
    return elements * (limits.CHECK_BYTES_PER_ELEMENT + operations * limits.CHECK_BYTES_PER_ELEMENT_OPERATION)


def exploration_cost(elements, work, program=None, ways=3):
    """An exploration and, given its program, the heaviest of its views (the plot, the check). `ways` is how
    many times backward runs: 3 (sum, mean, ones_like), or 4 with a given vector; each pass's tensors (grads,
    steps, layer grads) are kept in the result, so the measured three-way rate grows by a third per way."""
    views = 0 if program is None else max(curve_plan(program, elements, work).bytes, check_bytes(elements, work))
    return cost(elements, work, pass_bytes(elements, work) * ways // 3 + views)


def jacobian_cost(elements, work, passes):
    """The Jacobian view (and its forward-mode and finite-difference checks): torch.func batches `passes`
    passes (one per row or column of J, whichever are fewer) of the program at once, each holding what one
    pass of the exploration holds."""
    return cost(elements, work * passes, pass_bytes(elements, work) * max(1, passes))


@dataclass(frozen=True)
class CurvePlan:
    """What the tangent plot's curve costs before it runs: its samples, how many of them one batched pass holds,
    and the bytes that pass peaks at. samples == 0: over limits.MAX_CURVE_WORK, no curve."""

    samples: int  # odd: the centre sample is the element's own value
    chunk: int  # samples per batched pass
    bytes: int  # the peak of one batched pass


def curve_plan(program, elements, work):
    """The plan for a program's curve. The elementwise road runs the formula on the samples alone: one small
    pass, whatever x's size. The general road runs the whole program once per sample: fewer samples when they
    would exceed limits.MAX_CURVE_WORK together, and vmap in chunks of at most limits.CURVE_CHUNK_BYTES."""
    if is_elementwise(program):
        return CurvePlan(limits.PLOT_SAMPLES, limits.PLOT_SAMPLES, pass_bytes(limits.PLOT_SAMPLES, 0))
    sample = pass_bytes(elements, work)  # one forward and backward pass, as an exploration's is estimated
    samples = min(limits.PLOT_SAMPLES, limits.MAX_CURVE_WORK // max(1, work))
    samples -= 1 - samples % 2  # odd
    if samples < limits.MIN_PLOT_SAMPLES:
        return CurvePlan(0, 0, 0)
    chunk = max(1, min(samples, limits.CURVE_CHUNK_BYTES // max(1, sample)))
    return CurvePlan(samples, chunk, chunk * sample)


def hessian_cost(elements, work, variables):
    """The Hessian over `variables` leaf elements: one backward through the graph of backward per variable, each
    pass keeping the forward graph and backward's own (about three passes' tensors at once)."""
    return cost(elements, variables * work, 3 * pass_bytes(elements, work))


def training_cost(elements, work, trained, steps):
    """`steps` forward and backward passes, keeping each step's trained values and grads (float32, with a tensor's
    own objects): the pass's peak plus what the kept steps hold."""
    kept = steps * (2 * 4 * trained + limits.BYTES_PER_ELEMENT)
    return cost(elements, steps * (work + trained), pass_bytes(elements, work) + kept)
