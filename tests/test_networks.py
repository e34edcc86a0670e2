"""Dense layers' matmul (`dense_matmul`): the same derivatives as a plain matmul under every transformation,
and on CPU a weight gradient that XLA compiles as a plain [I, B] @ [B, J] matmul."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import export

from jaxrl.core import networks
from jaxrl.core.networks import MLP, dense_matmul, standard_weight_gradients


def _loss(matmul):
    return lambda x, w: jnp.sum(jnp.tanh(matmul(x, w)) ** 2)


PLAIN, OURS = _loss(jnp.matmul), _loss(dense_matmul)


@pytest.mark.parametrize("x_shape,w_shape", [((512, 64), (64, 64)), ((5, 16, 4), (4, 8)), ((32, 64), (64, 1)),
                                             ((8000, 4), (4, 64))])
def test_dense_matmul_has_the_plain_matmul_derivatives(x_shape, w_shape):
    kx, kw, kv = jax.random.split(jax.random.PRNGKey(0), 3)
    x, w = jax.random.normal(kx, x_shape), jax.random.normal(kw, w_shape) / np.sqrt(w_shape[0])
    v = jax.random.normal(kv, w_shape)
    for got, want in [
        (jax.jit(jax.grad(OURS, (0, 1)))(x, w), jax.grad(PLAIN, (0, 1))(x, w)),
        (jax.jvp(lambda w: OURS(x, w), (w,), (v,)), jax.jvp(lambda w: PLAIN(x, w), (w,), (v,))),  # forward mode
        (jax.jvp(jax.grad(lambda w: OURS(x, w)), (w,), (v,)), jax.jvp(jax.grad(lambda w: PLAIN(x, w)), (w,), (v,))),
        (jax.vmap(jax.grad(OURS, 1), (None, 0))(x, jnp.stack([w, -w])),
         jax.vmap(jax.grad(PLAIN, 1), (None, 0))(x, jnp.stack([w, -w]))),
    ]:
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * float(jnp.max(jnp.abs(b))))


def _mlp_weight_grad_hlo(rows: int, platform: str | None = None):
    mlp = MLP((64, 64))
    x = jnp.ones((rows, 4))
    params = mlp.init(jax.random.PRNGKey(0), x)
    grad = jax.jit(jax.grad(lambda p: jnp.sum(mlp.apply(p, x) ** 2)))
    if platform is None:
        return grad.lower(params).compile().as_text()
    return export.export(grad, platforms=(platform,))(params).mlir_module()


def _transposed_dots(hlo: str) -> list[str]:
    """Compiled dots that contract both operands over their leading axis (the form XLA's CPU backend
    leaves to Eigen); the [4, 64] first layer's included."""
    return [line for line in hlo.splitlines() if re.search(r"\bdot\(", line)
            and "lhs_contracting_dims={0}" in line and "rhs_contracting_dims={0}" in line]


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the layout is chosen for XLA's CPU backend")
def test_cpu_weight_gradients_compile_as_plain_matmuls():
    assert _transposed_dots(_mlp_weight_grad_hlo(512)) == []
    with standard_weight_gradients():  # second-order users (TRPO) opt out while tracing
        assert len(_transposed_dots(_mlp_weight_grad_hlo(512))) >= 2
    too_many = networks.CPU_WEIGHT_GRAD_MAX_ROWS + 1  # long contractions stay with Eigen's threads
    assert len(_transposed_dots(_mlp_weight_grad_hlo(too_many))) >= 2


def test_other_platforms_lower_the_standard_weight_gradient():
    assert "optimization_barrier" in _mlp_weight_grad_hlo(512, "cpu")
    assert "optimization_barrier" not in _mlp_weight_grad_hlo(512, "cuda")


def _kernels(params):
    return {jax.tree_util.keystr(p): np.asarray(x) for p, x in jax.tree_util.tree_flatten_with_path(params)[0]
            if p[-1].key == "kernel"}


def test_init_params_draws_every_orthogonal_kernel_in_one_batch():
    """One normal draw and one Gram-Schmidt loop for all kernels (each random call site is a while loop that
    compiles in ~0.25 s on CPU), with each kernel orthogonal at its layer's scale, as `orthogonal` gives
    layer by layer; an nn.vmap ensemble gets a different matrix per member."""
    from jaxrl.core.networks import ActorCritic, CategoricalHead, CriticEnsemble, init_params

    net, obs = ActorCritic(CategoricalHead(3), (16, 8)), jnp.zeros((1, 5))
    params = jax.jit(lambda k: init_params(net, k, obs))(jax.random.PRNGKey(0))
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, net.init(jax.random.PRNGKey(0), obs))
    scales = {"actor": 2.0, "critic": 2.0, "action_head": 1e-4, "value_head": 1.0}  # scale ** 2
    kernels = _kernels(params)
    assert len(kernels) == 6
    for path, w in kernels.items():
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        scale2 = next(v for k, v in scales.items() if f"'{k}'" in path)
        np.testing.assert_allclose(gram, scale2 * np.eye(len(gram)), atol=1e-5 * scale2, err_msg=path)
    assert not np.allclose(kernels["['params']['actor']['Dense_0']['kernel']"],
                           kernels["['params']['critic']['Dense_0']['kernel']"])  # same shape, own draws
    other = _kernels(jax.jit(lambda k: init_params(net, k, obs))(jax.random.PRNGKey(1)))
    assert not any(np.allclose(kernels[p], other[p]) for p in kernels)  # the key matters
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if path[-1].key == "bias":
            assert not np.asarray(leaf).any()
    compiled = jax.jit(lambda k: init_params(net, k, obs)).lower(jax.random.PRNGKey(0)).compile().as_text()
    layerwise = jax.jit(lambda k: net.init(k, obs)).lower(jax.random.PRNGKey(0)).compile().as_text()
    assert compiled.count(" while(") <= 3 < 6 <= layerwise.count(" while(")  # per-layer: a draw and a loop each

    ens = CriticEnsemble(2, (8, 8))
    q = _kernels(init_params(ens, jax.random.PRNGKey(2), jnp.zeros((1, 3)), jnp.zeros((1, 1))))
    for w in q.values():
        assert w.shape[0] == 2 and not np.allclose(w[0], w[1])  # two critics, two different matrices
