"""Conjugate gradient (Hestenes & Stiefel 1952) for A x = b with A symmetric positive definite, given only
as a matrix-vector product; as used by TRPO for natural-gradient steps (Schulman et al. 2015, App. C).

Our own rather than jax.scipy.sparse.linalg.cg: TRPO wants a fixed iteration budget with an absolute
stop on ‖r‖², written with a lax loop so it jits and vmaps.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def _vdot(a, b) -> jax.Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _axpy(alpha, x, y):  # alpha * x + y, leaf by leaf
    return jax.tree.map(lambda xi, yi: alpha * xi + yi, x, y)


def conjugate_gradient(matvec: Callable[[Any], Any], b: Any, iters: int, residual_tol: float = 1e-10) -> Any:
    """Approximately solve `matvec(x) = b` from x = 0, for at most `iters` iterations, stopping early once
    the squared residual norm rᵀr falls to `residual_tol`. `b` may be a flat vector or any pytree."""

    def cond(carry):
        i, _, _, _, r_dot_r = carry
        return jnp.logical_and(i < iters, r_dot_r > residual_tol)

    def body(carry):
        i, x, r, p, r_dot_r = carry
        a_p = matvec(p)
        alpha = r_dot_r / _vdot(p, a_p)
        x = _axpy(alpha, p, x)
        r = _axpy(-alpha, a_p, r)
        new_r_dot_r = _vdot(r, r)
        p = _axpy(new_r_dot_r / r_dot_r, p, r)
        return i + 1, x, r, p, new_r_dot_r

    x0 = jax.tree.map(jnp.zeros_like, b)
    init = (jnp.asarray(0), x0, b, b, _vdot(b, b))
    return jax.lax.while_loop(cond, body, init)[1]
