"""The shared optimiser (jaxrl.core.optim.make_optimizer): a flattened optax chain that must step exactly like
the per-leaf one it replaces."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl.core.optim import make_optimizer, per_leaf_chain


def _params(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {"dense": {"kernel": jax.random.normal(k1, (4, 3)), "bias": jnp.zeros(3)},
            "head": {"kernel": jax.random.normal(k2, (3, 2))}, "log_std": jax.random.normal(k3, (2,))}


@pytest.mark.parametrize("kind", ["adam", "rmsprop", "sgd"])
@pytest.mark.parametrize("max_grad_norm", [0.1, 1e3])  # the clip binds / does not
def test_flattened_optimizer_steps_like_the_per_leaf_chain(kind, max_grad_norm):
    params = _params(jax.random.PRNGKey(0))
    loss = lambda p: sum(jnp.sum(jnp.sin(x) * (i + 1)) for i, x in enumerate(jax.tree.leaves(p)))
    ours, reference = make_optimizer(3e-3, max_grad_norm, 10, kind), per_leaf_chain(3e-3, max_grad_norm, 10, kind)
    p_ours, s_ours = params, ours.init(params)
    p_ref, s_ref = params, reference.init(params)
    for _ in range(4):
        g = jax.grad(loss)(p_ours)
        u, s_ours = ours.update(g, s_ours, p_ours)
        p_ours = optax.apply_updates(p_ours, u)
        g = jax.grad(loss)(p_ref)
        u, s_ref = reference.update(g, s_ref, p_ref)
        p_ref = optax.apply_updates(p_ref, u)
    assert jax.tree.structure(p_ours) == jax.tree.structure(params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), p_ours, p_ref)
    assert not jax.tree.all(jax.tree.map(lambda a, b: jnp.allclose(a, b), p_ours, params))  # it moved


def test_optimizer_state_holds_one_vector_per_moment():
    """The clip's norm and the update run over one flat vector, not one array per layer (on a GPU each
    per-leaf piece would be a kernel of its own)."""
    params = _params(jax.random.PRNGKey(1))
    size = sum(x.size for x in jax.tree.leaves(params))
    state = make_optimizer(1e-3, 0.5).init(params)
    shapes = [x.shape for x in jax.tree.leaves(state)]
    assert (size,) in shapes
    assert all(s in ((), (size,)) for s in shapes), shapes
