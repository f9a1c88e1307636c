"""The symbolic answer as plain data: what the sympy worker sends back and the page shows.

Free of sympy and torch, so the page reads a Derivation without either, and
the worker's wire format (explorer/wire.py) needs nothing heavier than numpy.
"""

from dataclasses import dataclass, field

from explorer.engine import limits

STATUSES = ("ok", "timeout", "too_large", "error", "busy")


@dataclass(frozen=True)
class LayerMath:
    name: str
    formula: str  # "z = 2 y^{2}"
    local: tuple  # one per input read directly: "\frac{dz}{dy} = 4 y"
    chain: str  # "\frac{dz}{dx} = \frac{dz}{dy} \cdot \frac{dy}{dx} = 4 y \cdot 3 = 12 \left(3 x + 2\right)"
    derivative: str  # the chain's last part: "12 \left(3 x + 2\right)"


@dataclass(frozen=True, eq=False)
class ReductionMath:
    name: str  # "sum", "mean" or "ones_like"
    latex: str  # "\frac{\partial \mathrm{out}}{\partial x_{i}} = ... = 2 \left(3 x_{i} + 2\right)"
    # d out / d x_i at every element: a read-only float64 numpy array shaped like x (0-d when x is a number),
    # so np.ravel(values)[i] is element i in either case.
    values: object


@dataclass(frozen=True, eq=False)
class Derivation:
    # "ok"; "timeout", "too_large" or "error", which are answers about the formula and may be cached;
    # "busy", when no worker was free for limits.SYMBOLIC_QUEUE_SECONDS, which is about the moment.
    status: str
    message: str  # why there is no symbolic answer; "" when ok
    layers: tuple = ()  # of LayerMath
    reductions: dict = field(default_factory=dict)  # "sum" / "mean" / "ones_like" -> ReductionMath, when ok

    @property
    def ok(self):
        return self.status == "ok"


def timed_out():
    seconds = limits.SYMBOLIC_SECONDS
    return Derivation("timeout", f"too large to show symbolically: sympy needed more than {seconds:g} s")
