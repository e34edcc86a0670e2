"""Network torsos and heads shared by all agents (flax.linen), distributions from distrax."""
from __future__ import annotations

import contextlib
from typing import Sequence

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu, "elu": nn.elu, "silu": nn.silu}


def _gram_schmidt(a):
    """The orthonormal columns of a[n, m] (n >= m), by Gram-Schmidt with re-orthogonalisation in plain jnp.
    Not LAPACK's QR (flax's orthogonal initialiser): its batched CPU kernel deadlocks when `train` is vmapped
    over seeds on few cores (jaxlib 0.10.2: ParallelBatchMap waits on its own busy pool)."""

    def column(j, q):
        v = a[:, j]
        for _ in range(2):  # second pass restores orthogonality lost to rounding
            v = v - q @ (q.T @ v)
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, a.shape[1], column, jnp.zeros(a.shape, a.dtype))


def _orientation(shape) -> tuple[int, int, int, int]:
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    return rows, cols, max(rows, cols), min(rows, cols)


# While `init_params` traces a module's init, `orthogonal` kernels are placeholders filled with their scale
_BATCHED_INIT = [False]


def orthogonal(scale: float = 1.0):
    """Orthogonal initialiser (Saxe et al. 2014): a Gaussian matrix's orthonormal columns (`_gram_schmidt`),
    times `scale`. Under `init_params`, a placeholder that `init_params` replaces (one draw for all)."""

    def init(key, shape, dtype=jnp.float32):
        if _BATCHED_INIT[0]:
            return jnp.full(shape, scale, dtype)
        rows, cols, n, m = _orientation(shape)
        q = _gram_schmidt(jax.random.normal(key, (n, m), jnp.float32))
        q = q if rows >= cols else q.T
        return (scale * q).reshape(shape).astype(dtype)

    return init


def init_params(module: nn.Module, key: jax.Array, *args):
    """`module.init(key, *args)` with every Dense kernel's orthogonal initialisation done in one batch: one
    normal draw for all kernels and one Gram-Schmidt loop over them, padded to a common shape. The same
    distribution as `orthogonal` kernel by kernel, but on CPU every `jax.random` call site is a threefry
    loop that costs ~0.25 s to compile: drawn layer by layer, a (64, 64) actor-critic's init compiled in
    2.7 s, a third of PPO's `train`. Kernels with leading axes (an `nn.vmap` ensemble) get one matrix per
    member."""
    init_key, draw_key = jax.random.split(key)
    previous, _BATCHED_INIT[0] = _BATCHED_INIT[0], True
    try:
        params = module.init(init_key, *args)  # kernels hold their scale; nothing random is drawn here
    finally:
        _BATCHED_INIT[0] = previous
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    out = [leaf for _, leaf in leaves]
    # every kernel [..., I, J] is `count` matrices of I x J, each oriented n x m with n >= m
    kernels = [(i, int(np.prod(leaf.shape[:-2])), _orientation(leaf.shape[-2:]))
               for i, (path, leaf) in enumerate(leaves) if getattr(path[-1], "key", None) == "kernel"]
    if not kernels:
        return params
    ns = np.repeat([o[2] for _, _, o in kernels], [c for _, c, _ in kernels])
    ms = np.repeat([o[3] for _, _, o in kernels], [c for _, c, _ in kernels])
    gauss = jax.random.normal(draw_key, (len(ns), ns.max(), ms.max()), jnp.float32)
    # A matrix's own columns keep zeros below its n rows, so Gram-Schmidt gives what it gives unpadded;
    # the columns after its m are random in every row (full rank) and are dropped.
    below = np.arange(ns.max())[None, :, None] >= ns[:, None, None]
    own = np.arange(ms.max())[None, None, :] < ms[:, None, None]
    qs = jax.vmap(_gram_schmidt)(jnp.where(below & own, 0.0, gauss))
    start = 0
    for i, count, (rows, cols, n, m) in kernels:
        q = qs[start:start + count, :n, :m]
        q = q if rows >= cols else jnp.swapaxes(q, -1, -2)
        start += count
        out[i] = (out[i][..., :1, :1] * q.reshape(out[i].shape)).astype(out[i].dtype)  # placeholder = scale
    return jax.tree_util.tree_unflatten(treedef, out)


def _standard_weight_tangent(x, dw):
    return x @ dw


def _cpu_weight_tangent(x, dw):
    """x @ dw written so that its transpose, the weight gradient x^T @ g, is a plain [I, B] @ [B, J] matmul.

    The transpose of x @ dw with respect to dw contracts x and the output cotangent g over their leading
    (batch) axis. XLA's CPU backend sends that form of dot to Eigen, while plain matmuls go to its faster
    YNNPACK kernels: on a 2-core CPU, the weight gradients of a (64, 64) MLP on 512-sample minibatches
    were the slowest ops of PPO's gradient step, at twice the time of forward matmuls of the same size.
    Here x^T is materialised (an optimization barrier keeps XLA from folding the transpose back into
    the dot), so the weight gradient contracts xt's last axis. Same values up to float rounding."""
    lead, features = x.shape[:-1], x.shape[-1]
    xt = jax.lax.optimization_barrier(x.reshape(-1, features).T)  # [I, B]
    return (xt.T @ dw).reshape(lead + dw.shape[-1:])


# Batches above this many rows keep the standard form: there Eigen's dot splits the long contraction over
# threads, while YNNPACK's runs on one (REINFORCE's 8,000-row batches ran slower with the CPU form).
CPU_WEIGHT_GRAD_MAX_ROWS = 4096
_STANDARD_ONLY = [False]


@contextlib.contextmanager
def standard_weight_gradients():
    """While tracing inside this block, Dense layers differentiate in the standard form on every platform.
    For second-order code: TRPO's Fisher-vector products (forward-over-reverse) ran 1.4x slower through the
    CPU form."""
    previous, _STANDARD_ONLY[0] = _STANDARD_ONLY[0], True
    try:
        yield
    finally:
        _STANDARD_ONLY[0] = previous


@jax.custom_jvp
def dense_matmul(x, w):
    """x[..., I] @ w[I, J], the product in every Dense layer; its derivative rule (below) only changes how
    the weight gradient is laid out for XLA on CPU, not what it computes."""
    return x @ w


@dense_matmul.defjvp
def _dense_matmul_jvp(primals, tangents):
    x, w = primals
    dx, dw = tangents
    weight_tangent = _standard_weight_tangent
    rows = int(np.prod(x.shape[:-1]))
    # A vector output (J = 1) stays as it is: XLA fuses its gradient into an elementwise loop, which the
    # barrier would only get in the way of.
    if w.shape[-1] > 1 and x.ndim >= 2 and rows <= CPU_WEIGHT_GRAD_MAX_ROWS and not _STANDARD_ONLY[0]:
        weight_tangent = lambda x, dw: jax.lax.platform_dependent(
            x, dw, cpu=_cpu_weight_tangent, default=_standard_weight_tangent)
    return x @ w, dx @ w + weight_tangent(x, dw)


def _dense_dot_general(x, w, dimension_numbers, precision=None, preferred_element_type=None):
    """flax Dense's dot_general, through `dense_matmul` when it is Dense's own contraction."""
    if (dimension_numbers == (((x.ndim - 1,), (0,)), ((), ())) and w.ndim == 2 and precision is None
            and preferred_element_type is None):
        return dense_matmul(x, w)
    return jax.lax.dot_general(x, w, dimension_numbers, precision=precision,
                               preferred_element_type=preferred_element_type)


def _dense(features: int, scale: float = np.sqrt(2)) -> nn.Dense:
    return nn.Dense(features, kernel_init=orthogonal(scale), bias_init=nn.initializers.zeros,
                    dot_general=_dense_dot_general)


class MLP(nn.Module):
    """Flattens trailing observation dims, then Dense+activation layers."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    obs_ndim: int = 1  # rank of one observation, so image-like obs are flattened

    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[: x.ndim - self.obs_ndim] + (-1,))
        for size in self.hidden_sizes:
            x = ACTIVATIONS[self.activation](_dense(size)(x))
        return x


class CategoricalHead(nn.Module):
    num_actions: int

    @nn.compact
    def __call__(self, x) -> distrax.Distribution:
        return distrax.Categorical(logits=_dense(self.num_actions, 0.01)(x))


class GaussianHead(nn.Module):
    """Diagonal Gaussian with a state-independent, learned log standard deviation."""

    action_dim: int
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, x) -> distrax.Distribution:
        mean = _dense(self.action_dim, 0.01)(x)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        return distrax.MultivariateNormalDiag(mean, jnp.broadcast_to(jnp.exp(log_std), mean.shape))


class ValueHead(nn.Module):
    @nn.compact
    def __call__(self, x) -> jax.Array:
        return _dense(1, 1.0)(x).squeeze(-1)


class ActorCritic(nn.Module):
    """Actor and critic torsos (separate, or one shared torso); returns (action distribution, state value)."""

    action_head: nn.Module
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    obs_ndim: int = 1
    shared_torso: bool = False

    def setup(self):
        self.actor = MLP(self.hidden_sizes, self.activation, self.obs_ndim)
        self.critic = self.actor if self.shared_torso else MLP(self.hidden_sizes, self.activation, self.obs_ndim)
        self.value_head = ValueHead()

    def __call__(self, obs):
        return self.action_head(self.actor(obs)), self.value(obs)

    def value(self, obs):
        return self.value_head(self.critic(obs))


def action_head_for(action_space) -> nn.Module:
    """Categorical head for Discrete actions, Gaussian head for Box actions."""
    from jaxrl.envs.spaces import Discrete

    if isinstance(action_space, Discrete):
        return CategoricalHead(action_space.n)
    return GaussianHead(int(np.prod(action_space.shape)))


def greedy_action(dist: distrax.Distribution) -> jax.Array:
    """Mode of the policy: argmax for categorical, mean for Gaussian."""
    return dist.mode()


class QNetwork(nn.Module):
    """Action values Q(s, ·) for discrete actions; `dueling` splits them into V(s) + A(s, ·) - mean A
    (Wang et al. 2016)."""

    num_actions: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "relu"
    obs_ndim: int = 1
    dueling: bool = False

    @nn.compact
    def __call__(self, obs) -> jax.Array:
        x = MLP(self.hidden_sizes, self.activation, self.obs_ndim)(obs)
        if not self.dueling:
            return _dense(self.num_actions, 1.0)(x)
        value = _dense(1, 1.0)(x)
        advantage = _dense(self.num_actions, 1.0)(x)
        return value + advantage - advantage.mean(-1, keepdims=True)


class ContinuousQ(nn.Module):
    """Q(s, a) for continuous actions: an MLP over the concatenated observation and action."""

    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs, action) -> jax.Array:
        x = jnp.concatenate([obs.reshape(obs.shape[: action.ndim - 1] + (-1,)), action], -1)
        return _dense(1, 1.0)(MLP(self.hidden_sizes, self.activation)(x)).squeeze(-1)


class CriticEnsemble(nn.Module):
    """`num_critics` independent Q(s, a) networks (clipped double Q); returns [num_critics, ...]."""

    num_critics: int = 2
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs, action) -> jax.Array:
        ensemble = nn.vmap(ContinuousQ, variable_axes={"params": 0}, split_rngs={"params": True},
                           in_axes=None, out_axes=0, axis_size=self.num_critics)
        return ensemble(self.hidden_sizes, self.activation)(obs, action)


class TanhGaussianActor(nn.Module):
    """Squashed Gaussian policy (Haarnoja et al. 2018): returns the pre-squash mean and a log standard
    deviation bounded in [log_std_min, log_std_max]; `tanh_gaussian` makes the distribution."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    obs_ndim: int = 1
    log_std_min: float = -5.0
    log_std_max: float = 2.0

    @nn.compact
    def __call__(self, obs) -> tuple[jax.Array, jax.Array]:
        x = MLP(self.hidden_sizes, self.activation, self.obs_ndim)(obs)
        mean = _dense(self.action_dim, 0.01)(x)
        log_std = jnp.tanh(_dense(self.action_dim, 0.01)(x))  # smooth bound, as in CleanRL / SpinningUp
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (log_std + 1.0)
        return mean, log_std


def tanh_gaussian(mean: jax.Array, log_std: jax.Array) -> distrax.Distribution:
    """tanh(N(mean, exp(log_std))) per dimension; `sample_and_log_prob` includes the tanh Jacobian."""
    return distrax.Transformed(distrax.MultivariateNormalDiag(mean, jnp.exp(log_std)),
                               distrax.Block(distrax.Tanh(), ndims=1))
