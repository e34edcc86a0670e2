"""Optimiser construction (optax), written once: global-norm clipping, optional linear annealing."""
from __future__ import annotations

import optax


def make_optimizer(lr, max_grad_norm, anneal_steps: int | None = None, kind: str = "adam",
                   eps: float = 1e-5) -> optax.GradientTransformation:
    """`lr` and `max_grad_norm` may be traced (hyperparameters are inputs of `train`)."""
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
