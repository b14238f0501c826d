"""The reveal rule, written once: how far a branch moves and what that costs (semantics.md §3).

A branch with ``k`` probes has ``k + 1`` reveals: its ``k`` intermediate
answers, Δ tokens each, then its final answer, which costs the rest of the
branch, ``max(0, total − Δ·k)``. ``t`` counts the reveals made so far, so
``t == k + 1`` means the branch has finished. Reading a branch whole reveals
its final answer at once for its total length.

The functions are plain arithmetic on numpy ufuncs, so the replay environment
applies them to whole arrays of branches, and the native runtime compiles
these very functions with numba (``compiler/native_rt.py``) for one branch at
a time. Keep them small and scalar: numba inlines them into the kernels' loops.
"""

from __future__ import annotations

import numpy as np


def reach(t, steps, n_probes):
    """Reveals made after asking for ``steps`` more from ``t``; it stops at the final one.

    Written as ``t`` plus what is left, so a huge ``steps`` (up to INT_MAX) cannot wrap.
    """
    return t + np.minimum(np.maximum(steps, 0), n_probes + 1 - t)


def probe_tokens(t0, t1, n_probes, delta):
    """Tokens for the intermediate answers among reveals ``t0 + 1 … t1``: Δ each."""
    return delta * (np.minimum(t1, n_probes) - np.minimum(t0, n_probes))


def finishes(t0, t1, n_probes):
    """Do reveals ``t0 + 1 … t1`` include the final answer?"""
    return (t1 > n_probes) & (t0 <= n_probes)


def rest_tokens(total_tokens, n_probes, delta):
    """Tokens for the final answer: the rest of the branch after its probes, never negative."""
    return np.maximum(total_tokens - delta * n_probes, 0)


def cost(t0, t1, n_probes, total_tokens, delta):
    """Tokens for reveals ``t0 + 1 … t1``: Δ per probe, the remainder for the final answer.

    (The native runtime composes the three parts itself so that it reads a branch's
    length only when the branch finishes.)
    """
    return probe_tokens(t0, t1, n_probes, delta) + finishes(t0, t1, n_probes) * rest_tokens(
        total_tokens, n_probes, delta)


def whole_cost(total_tokens):
    """Tokens for reading a branch whole: its full length, never less."""
    return total_tokens
