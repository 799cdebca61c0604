"""A tiny scalar autodiff engine, micrograd style (notebook 03).

Each :class:`Value` remembers the values it was computed from and a small
function, ``_backward``, that applies the local chain rule: it takes the
node's own gradient ``out.grad`` and adds ``out.grad * d out / d input`` to
each input's gradient. :meth:`Value.backward` calls these in reverse
topological order, so a node's gradient is complete before it is passed on.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

__all__ = ["Value", "topo_order", "describe_graph", "draw_graph"]


class Value:
    """A scalar that records how it was computed, for reverse-mode autodiff.

    Parameters
    ----------
    data : float
    _children : tuple of Value
        The inputs of the operation that produced this value.
    _op : str
        That operation's name (for :func:`describe_graph`).
    label : str
        Optional name, e.g. ``"w1"``.
    """

    def __init__(
        self, data: float, _children: tuple[Value, ...] = (), _op: str = "", label: str = ""
    ):
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"data must be a real number, got {data!r} ({type(data).__name__})")
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    @staticmethod
    def _wrap(other) -> Value:
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other) -> Value:
        other = self._wrap(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        other = self._wrap(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k) -> Value:
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise TypeError(f"exponent must be an int or float (not a Value), got {k!r}")
        if self.data < 0 and not float(k).is_integer():
            # Python would return a complex number here; torch returns nan
            raise ValueError(
                f"exponent {k} of a negative value {self.data} has no real result: a negative "
                f"base needs an integer exponent"
            )
        out = Value(_pow(self.data, k), (self,), f"**{k}")

        def _backward():
            # d/dx x**0 is 0 everywhere, also at x = 0 where k * x**(k-1) would be 0 * inf
            if k != 0:
                self.grad += k * _pow(self.data, k - 1) * out.grad

        out._backward = _backward
        return out

    def _unary(self, value: float, local_grad: float, op: str) -> Value:
        """An element-wise function with derivative ``local_grad`` at this point."""
        out = Value(value, (self,), op)

        def _backward():
            self.grad += local_grad * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t * t, "tanh")

    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:  # e**x beyond the largest float: inf, as in torch
            e = math.inf
        return self._unary(e, e, "exp")

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log needs a positive value, got {self.data}")
        return self._unary(math.log(self.data), 1.0 / self.data, "log")

    def relu(self) -> Value:
        # Derivative 0 at exactly 0, as in torch.
        return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")

    def sigmoid(self) -> Value:
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return self._unary(s, s * (1.0 - s), "sigmoid")

    # Everything else is built from the operations above.
    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other) -> Value:
        return self + (-self._wrap(other))

    def __truediv__(self, other) -> Value:
        return self * self._wrap(other) ** -1

    def __radd__(self, other) -> Value:
        return self + other

    def __rmul__(self, other) -> Value:
        return self * other

    def __rsub__(self, other) -> Value:
        return self._wrap(other) - self

    def __rtruediv__(self, other) -> Value:
        return self._wrap(other) / self

    def backward(self) -> None:
        """Fill ``.grad`` of every node in the graph with d self / d node."""
        order = topo_order(self)
        # Each _backward *adds* to .grad (a node used twice must sum both
        # contributions). This engine resets first, so a second call to backward()
        # gives the same gradients; PyTorch instead keeps adding across calls, on
        # purpose, and leaves the reset to optimizer.zero_grad().
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


def _pow(x: float, k: float) -> float:
    """``x ** k`` with IEEE results instead of Python's exceptions, as torch computes it.

    ``0.0 ** -1`` is inf (Python raises ZeroDivisionError) and ``10.0 ** 1000``
    is inf (Python raises OverflowError), so ``Value(1) / Value(0)`` is inf.
    """
    try:
        return float(x) ** k
    except ZeroDivisionError:  # 0 to a negative power; -0.0 to an odd one is -inf
        odd = float(k).is_integer() and int(k) % 2 == 1
        return -math.inf if odd and math.copysign(1.0, x) < 0 else math.inf
    except OverflowError:  # |x ** k| beyond the largest float
        odd = float(k).is_integer() and int(k) % 2 == 1
        return -math.inf if odd and x < 0 else math.inf


def topo_order(root: Value) -> list[Value]:
    """All nodes that ``root`` depends on, each after all of its inputs (``root`` last).

    Parameters
    ----------
    root : Value

    Returns
    -------
    list of Value
    """
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order: list[Value] = []
    seen: set[int] = set()
    # Iterative depth-first search: deep graphs would overflow Python's recursion limit.
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node._prev) if id(child) not in seen)
    return order


def describe_graph(root: Value) -> str:
    """A text trace of the graph, one node per line in topological order.

    Each line shows a node's number, label, operation, inputs, data and grad,
    e.g. ``n3  = n1 * n2      data=  -6  grad=   1``.

    Parameters
    ----------
    root : Value

    Returns
    -------
    str
    """
    order = topo_order(root)
    index = {id(node): i for i, node in enumerate(order)}
    lines = []
    for i, node in enumerate(order):
        name = f"n{i}" + (f" ({node.label})" if node.label else "")
        ins = [f"n{index[id(c)]}" for c in node._prev]
        if not node._op:
            expr = "input"
        elif len(ins) == 2:
            expr = f"{ins[0]} {node._op} {ins[1]}"
        elif node._op.startswith("**"):
            expr = f"{ins[0]}{node._op}"
        else:
            expr = f"{node._op}({', '.join(ins)})"
        lines.append(f"{name:<12} = {expr:<18} data={node.data: .6g}  grad={node.grad: .6g}")
    return "\n".join(lines)


def draw_graph(root: Value, ax=None, show_grad: bool = True):
    """Draw the computational graph of ``root`` with matplotlib, inputs on the left.

    Each node is a box with its label (inputs) or operation (computed nodes),
    its value and, with ``show_grad``, its gradient; an arrow runs from each
    input of an operation to its result. A computed node's column is one more
    than the largest column of its inputs; an input sits one column left of the
    first node that uses it, so constants do not pile up on the far left.

    Parameters
    ----------
    root : Value
    ax : matplotlib Axes, optional
        Drawn into a new figure if not given.
    show_grad : bool
        Also print each node's ``grad`` (run ``root.backward()`` first).

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    order = topo_order(root)
    column: dict[int, int] = {}
    for node in order:  # computed nodes: after all of their inputs
        if node._prev:
            column[id(node)] = 1 + max(column.get(id(c), 0) for c in node._prev)
    users: dict[int, list[int]] = {}
    for node in order:
        for child in node._prev:
            users.setdefault(id(child), []).append(column[id(node)])
    for node in order:  # inputs: just left of their first user
        if not node._prev:
            column[id(node)] = min(users.get(id(node), [1])) - 1
    rows: dict[int, list[Value]] = {}
    for node in order:
        rows.setdefault(column[id(node)], []).append(node)
    height = max(len(r) for r in rows.values())
    position = {}
    for col, nodes in rows.items():
        for i, node in enumerate(nodes):
            position[id(node)] = (col, (len(nodes) - 1) / 2 - i)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * (len(rows) + 1), 0.75 * height + 1))
    for node in order:
        for child in node._prev:
            ax.annotate(
                "",
                xy=position[id(node)],
                xytext=position[id(child)],
                arrowprops={"arrowstyle": "->", "color": "0.55", "shrinkA": 14, "shrinkB": 14},
            )
    for node in order:
        name = node.label or node._op or "const"
        text = f"{name}\n{node.data:.3g}" + (f"\ng {node.grad:.3g}" if show_grad else "")
        color = "#dbe9f6" if not node._prev else "#fde9d0"
        box = {"boxstyle": "round,pad=0.25", "facecolor": color, "edgecolor": "0.4"}
        ax.text(*position[id(node)], text, ha="center", va="center", fontsize=6.5, bbox=box)
    columns = sorted(rows)
    ax.set_xlim(columns[0] - 0.6, columns[-1] + 0.6)
    ax.set_ylim(-height / 2, height / 2)
    ax.set_yticks([])
    ax.set_xticks(columns)
    ax.set_xlabel("column: operations between the node and the inputs it depends on")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return ax
