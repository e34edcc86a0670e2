"""Optimiser construction (optax), written once: global-norm clipping, optional linear annealing."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree


def make_optimizer(lr, max_grad_norm, anneal_steps: int | None = None, kind: str = "adam",
                   eps: float = 1e-5) -> optax.GradientTransformation:
    """`lr` and `max_grad_norm` may be traced (hyperparameters are inputs of `train`).

    `per_leaf_chain` over one flat vector: the clip and the update see one array instead of one per layer, so
    the global norm is one reduction and the update one elementwise pass (on a GPU, each per-leaf piece is a
    kernel of its own)."""
    return optax.flatten(per_leaf_chain(lr, max_grad_norm, anneal_steps, kind, eps))


def check_optimizer_eps(eps) -> None:
    """`algo.optimizer_eps` must be a finite number > 0 (it keeps the optimiser's denominator off zero)."""
    if not (isinstance(eps, (int, float)) and 0 < eps < float("inf")):
        raise ValueError(f"algo.optimizer_eps must be a finite number > 0, got {eps!r}")


def per_leaf_chain(lr, max_grad_norm, anneal_steps: int | None = None, kind: str = "adam",
                   eps: float = 1e-5) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam, RMSprop or SGD, with an optional linear learning-rate anneal."""
    schedule = optax.linear_schedule(lr, 0.0, anneal_steps) if anneal_steps else lr
    if kind == "adam":
        opt = optax.adam(schedule, eps=eps)
    elif kind == "rmsprop":
        opt = optax.rmsprop(schedule, decay=0.99, eps=eps)
    elif kind == "sgd":
        opt = optax.sgd(schedule)
    else:
        raise ValueError(f"unknown optimizer {kind!r}; allowed: adam, rmsprop, sgd")
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), opt)


def flat_params(params):
    """(params as one vector, the function that gives the pytree back) for a loop of gradient steps.

    A loop that carries this vector instead of the pytree differentiates with respect to it and applies
    `make_optimizer`'s flat update to it in one elementwise pass: the optimiser state is the same (it
    already holds one vector per moment, in this order), and so are the values. Carrying the pytree, each
    step split the flat update back into one addition per layer (on a GPU, a kernel each)."""
    return ravel_pytree(params)


def gradient_step(tx: optax.GradientTransformation, params, grads, opt_state):
    """One optimiser step: (new params, new optimiser state)."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def polyak(target, online, tau):
    """Target-network update θ' <- τ θ + (1 - τ) θ' on every leaf; τ = 1 is a hard copy."""
    return jax.tree.map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


def periodic_polyak(target, online, tau, step, every: int):
    """`polyak` on every `every`-th step (count from 1), else the target unchanged: DQN's hard copy every
    C updates is tau=1, every=C; SAC's soft update at every step is every=1."""
    if every == 1:
        return polyak(target, online, tau)
    do = (step % every) == 0
    return jax.tree.map(lambda t, n: jnp.where(do, n, t), target, polyak(target, online, tau))
