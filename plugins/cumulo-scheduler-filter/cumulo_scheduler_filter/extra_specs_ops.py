"""Nova's extra-spec matching language, for aggregate metadata and image versions.

A requirement is either a plain string (equality) or an operator and operand(s):

=========== ============================================== ==================
operator    passes when the host value ...                  example
=========== ============================================== ==================
``=``       is numerically >= the operand                   ``= 4``
``==``      is numerically equal                            ``== 4``
``!=``      is numerically different                        ``!= 4``
``>=``      is numerically >=                               ``>= 4``
``<=``      is numerically <=                               ``<= 4``
``s==``     equals (as strings); also ``s!= s< s<= s> s>=``  ``s== ssd``
``<in>``    contains the operand                            ``<in> avx``
``<all-in>`` contains every operand                         ``<all-in> a b``
``<or>``    equals one of the alternatives                  ``<or> a <or> b``
=========== ============================================== ==================

A numeric operator with a non-numeric value does not match (never raises).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any


def _num(op: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def compare(x: Any, y: Any) -> bool:
        try:
            return op(float(x), float(y))
        except (TypeError, ValueError):
            return False

    return compare


def _str(op: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    return lambda x, y: op(str(x), str(y))


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _num(operator.ge),
    "==": _num(operator.eq),
    "!=": _num(operator.ne),
    ">=": _num(operator.ge),
    "<=": _num(operator.le),
    "s==": _str(operator.eq),
    "s!=": _str(operator.ne),
    "s<": _str(operator.lt),
    "s<=": _str(operator.le),
    "s>": _str(operator.gt),
    "s>=": _str(operator.ge),
    "<in>": lambda x, y: str(y) in str(x),
    "<all-in>": lambda x, ys: all(str(y) in str(x) for y in ys),
}


def match(value: Any, requirement: Any) -> bool:
    """True when the host ``value`` satisfies ``requirement`` (see the module docstring)."""
    req = str(requirement)
    words = req.split()
    op = words.pop(0) if words else None
    if op == "<or>":
        # "<or> a <or> b <or> c": every other word is an alternative
        return value is not None and str(value) in words[::2]
    method = _OPS.get(op) if op else None
    if method is None:
        return value is not None and str(value) == req
    if value is None or not words:
        return False
    if op == "<all-in>":
        return method(value, words)
    return method(value, words[0])
