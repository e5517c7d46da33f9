"""Bit-for-bit reference values hold on the numerical stack that computed them.

A refactor is checked against stored hex floats *exactly*; but another numpy/scipy/qutip (CI's
lowest-versions job) rounds differently in the last bits (``expm1``, BLAS, sparse kernels). There
the same values are compared to a relative 1e-10 instead, which still catches any change of the
physics, and the exact comparison is reported as not applicable.
"""

from __future__ import annotations

import functools
from importlib import metadata

import numpy as np

#: The stack on which tests/data/*_reference.json were computed.
REFERENCE_STACK = {"numpy": "2.4.6", "scipy": "1.17.1", "qutip": "5.3.1"}


@functools.lru_cache(maxsize=1)
def same_stack() -> bool:
    """True when numpy, scipy and qutip are the versions the references were computed with (read
    once per session: 2 ms a package, asked hundreds of times)."""
    return all(metadata.version(k) == v for k, v in REFERENCE_STACK.items())


def assert_reference(actual, expected, *, what: str = "") -> None:
    """``actual == expected`` exactly (as ``np.array_equal``: ``-0.0 == 0.0``) on the reference
    stack, else to a relative 1e-10."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if same_stack():
        assert np.array_equal(actual, expected, equal_nan=True), f"{what}: changed at the last bit"
    else:
        scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-13 * scale,
                                   err_msg=what)
