"""What backward keeps: the tensors autograd saves on each grad_fn node for the backward pass.

A grad_fn keeps what its local derivative needs: MulBackward0 the other factor, PowBackward0 its base (and
exponent), ExpBackward0 its own result, MmBackward0 both matrices. torchviz's make_dot(show_saved=True) finds
them the same way, in each node's `_saved_*` attributes (a tensor, or a tuple of tensors), and draws each as an
orange node; backward() frees them, which is why a second pass needs retain_graph=True
(explorer.engine.accumulate). Non-tensor saved values (a Python number, a shape) cost nothing worth counting
and torchviz does not draw them: they are left out here too.

The walk is a fresh forward pass, since the exploration's own graphs have run backward and freed theirs. Its
grad_fn nodes come in the order of dot.graph_nodes, the walk each exploration's nodes were recorded in, so the
n-th node here is the n-th of the exploration's graph for the same way (a program's graph does not depend on
its values), and a view can put the saved tensors on the annotated graph's own node ids.
"""

from dataclasses import dataclass

from explorer.engine.dot import graph_nodes
from explorer.engine.forward import leaf_tensors, run_forward
from explorer.engine.language import ALL_REDUCTIONS

SAVED_PREFIX = "_saved_"  # torchviz's own prefix for the attributes it draws


@dataclass(frozen=True)
class SavedTensor:
    node: int  # the position of its grad_fn in dot.graph_nodes' walk
    op: str  # that grad_fn's name, "PowBackward0"
    name: str  # the attribute without its prefix, as torchviz labels it: "self", "other", "result", "mat2[0]"
    shape: tuple
    bytes: int  # its elements × their size
    storage: int  # an id of the memory it lives in: tensors saved twice (x by two nodes) share it


@dataclass(frozen=True)
class Saved:
    tensors: tuple  # of SavedTensor, in the walk's order
    total: int  # bytes held for backward: each storage counted once

    @property
    def count(self):
        return len(self.tensors)


def _tensors(value, name):
    """(name, tensor) pairs in one saved attribute: a tensor, or a tuple holding some."""
    if hasattr(value, "untyped_storage"):
        return [(name, value)]
    if isinstance(value, tuple):
        return [(f"{name}[{i}]", item) for i, item in enumerate(value) if hasattr(item, "untyped_storage")]
    return []


def saved_tensors(program, x_values, way, vector=None):
    """The tensors the graph of `program` at x = `x_values` keeps for backward when it starts the way `way`
    does (a row of language.ALL_REDUCTIONS; `vector` for "vector" changes nothing saved, only the seed).
    Built on a fresh forward pass; nothing is run backward. An output that reaches no leaf keeps nothing."""
    x = x_values.clone().requires_grad_(True)
    leaves = leaf_tensors(program, requires_grad=True)
    z = run_forward(program, x, leaves=leaves)[program.output.name]
    root = ALL_REDUCTIONS[way].out(z)
    if root.grad_fn is None:
        return Saved((), 0)
    found, storages = [], {}
    for position, fn in enumerate(graph_nodes(root)):
        for attr in sorted(dir(fn)):
            if not attr.startswith(SAVED_PREFIX):
                continue
            for name, tensor in _tensors(getattr(fn, attr), attr[len(SAVED_PREFIX):]):
                storage = tensor.untyped_storage()
                size = tensor.numel() * tensor.element_size()
                key = storage.data_ptr() or id(storage)
                storages[key] = max(storages.get(key, 0), storage.nbytes())
                found.append(SavedTensor(position, fn.name(), name, tuple(tensor.shape), size, key))
    return Saved(tuple(found), sum(storages.values()))
