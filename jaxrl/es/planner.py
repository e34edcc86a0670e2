"""Evolution for action selection: a CEM / random-shooting planner over open-loop action sequences,
used as a model-predictive controller (plan over a horizon, execute the first action, replan).

The model is the environment itself: gymnax and brax states are pytrees, so the planner copies the
real env's state K times and scores K candidate plans with the one rollout kernel
(`population_rollout`, population axis = candidates, one env each). A plan's score is the sum of
rewards up to and including the first done: the auto-reset wrapper restarts an episode inside the
horizon, and rewards of that new episode must not count.

    config = PlannerConfig(horizon=20, num_candidates=128, num_iterations=4)
    run = make_mpc("gymnax/Pendulum-v1", config, num_envs=4)
    returns = jax.jit(run)(jax.random.PRNGKey(0))          # [num_envs] episode returns

Warm start. CEM converges in fewer iterations when it starts from the previous step's plan shifted
by one step. The kernel's policy carries no state of its own, so the plan rides in the env state:
`PlanMemory` wraps the real VecEnv, takes a whole plan [E, H, A] as its action, executes plan[:, 0]
and keeps the plan shifted by one step (zeros after an episode ends) in its state, where the policy
reads it back from `ctx.env_state`. The kernel stays the only loop over env.step and nothing outside
the state pytree changes between steps; the cost is that Transition.action holds the whole plan (the
executed action is action[:, 0]). With `warm_start=False` every step plans from a zero mean, which
needs more iterations: on Pendulum-v1 (H=20, K=64, I=3, 8 envs x 2 seeds) warm start reaches about
-170 and planning from scratch about -230. (A policy-state carry in the kernel would do the same
job without the wrapper.)
The plan executed is the best scored of all candidates and the final mean (with a deterministic
model that is the true best); each iteration's mean is one of its candidates, so a warm-started
plan never scores worse than continuing the previous one.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.config import CONFIG_DIR, ConfigError, _apply, _read_yaml
from jaxrl.core import rollout as kernel
from jaxrl.envs import Box, Wrapper, make

METHODS = ("cem", "random")
HPARAMS = ("init_std", "min_std", "alpha", "action_cost")  # numeric fields that may be traced (swept) inputs


@dataclass(frozen=True)
class PlannerConfig:
    """Planner settings; validated when built. Actions live in [-1, 1] (the rescaled action space).

    method "random" is random shooting: one batch of `num_candidates` uniform plans, best one wins
    (num_iterations, elite_fraction, init_std, min_std, alpha and warm_start are then unused)."""

    horizon: int = 20  # H: steps of each open-loop plan
    num_candidates: int = 128  # K: plans scored per iteration
    num_iterations: int = 4  # I: CEM refits per planning call
    elite_fraction: float = 0.1  # share of the K candidates that refit the Gaussian
    init_std: float = 0.5  # std of the sampling Gaussian at the start of each planning call
    min_std: float = 0.05  # floor on the std after each refit (keeps exploring)
    alpha: float = 0.1  # smoothing: new = alpha * old + (1 - alpha) * elite statistic
    action_cost: float = 0.0  # planning objective = return - action_cost * sum(action^2): breaks ties
    method: str = "cem"  # "cem" | "random"
    warm_start: bool = True  # start CEM from the previous plan shifted by one step

    def __post_init__(self):
        self.validate()

    @property
    def num_elites(self) -> int:
        return max(1, round(self.elite_fraction * self.num_candidates))

    def validate(self) -> None:
        """Raise ConfigError naming the key and the allowed values."""
        if self.method not in METHODS:
            raise ConfigError(f"method={self.method!r} is unknown; allowed: {', '.join(METHODS)}")
        for key, low in (("horizon", 1), ("num_candidates", 2), ("num_iterations", 1)):
            value = getattr(self, key)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
        for key in ("elite_fraction", *HPARAMS):
            if not isinstance(getattr(self, key), numbers.Real) or isinstance(getattr(self, key), bool):
                raise ConfigError(f"{key}: expected a number, got {getattr(self, key)!r}")
        if not 0.0 < self.elite_fraction <= 1.0:
            raise ConfigError(f"elite_fraction must be in (0, 1], got {self.elite_fraction}")
        if self.init_std <= 0.0:
            raise ConfigError(f"init_std must be > 0, got {self.init_std}")
        if not 0.0 <= self.min_std <= self.init_std:
            raise ConfigError(f"min_std must be in [0, init_std={self.init_std}], got {self.min_std}")
        if self.action_cost < 0.0:
            raise ConfigError(f"action_cost must be >= 0, got {self.action_cost}")
        if not 0.0 <= self.alpha < 1.0:
            raise ConfigError(f"alpha must be in [0, 1) (weight of the old mean/std), got {self.alpha}")

    def hparams(self) -> dict:
        """The numeric fields as a pytree input of `run`/`plan` (vmap over it to sweep them)."""
        return {k: float(getattr(self, k)) for k in HPARAMS}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def preset_path(env_id: str) -> Path:
    """configs/planner/<family>-<Name>.yaml: planner settings (and env_kwargs) for one env."""
    return CONFIG_DIR / "planner" / f"{env_id.replace('/', '-')}.yaml"


def load_planner_config(env_id: str, overrides: dict | None = None) -> tuple[PlannerConfig, dict]:
    """(PlannerConfig, env_kwargs): defaults < configs/planner/<env>.yaml < overrides."""
    values = {**_read_yaml(preset_path(env_id)), **(overrides or {})}
    env_kwargs = dict(values.pop("env_kwargs", None) or {})
    return _apply(PlannerConfig, PlannerConfig(), values, ""), env_kwargs


class PlanResult(NamedTuple):
    plan: jax.Array  # [H, *A] best plan found
    score: jax.Array  # its objective: sum of rewards up to the first done, less the action cost
    mean: jax.Array  # [H, *A] final mean of the sampling distribution
    std: jax.Array  # [H, *A] final std


def _open_loop(params, obs, key, ctx):
    """Kernel policy of one candidate: params is its plan [H, N, *A]; act params[t]."""
    return params[ctx.t], {}


def score_plans(plan_env, plans: jax.Array, state: kernel.RolloutState, key: jax.Array) -> jax.Array:
    """Score K plans [K, H, *A] from one copied state (a RolloutState of a 1-env VecEnv):
    sum of rewards up to and including the first done of each plan. Returns [K]."""
    num_plans, horizon = plans.shape[:2]
    population = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_plans, *x.shape)), state)
    _, (returns, _) = kernel.population_rollout(plan_env, _open_loop, plans[:, :, None], population, key,
                                                horizon, context=True, fold=kernel.FIRST_EPISODE)
    return returns[:, 0]  # [K, N=1]


def shift_plan(plan: jax.Array) -> jax.Array:
    """Drop the executed first action and append a zero action: the warm start for the next step."""
    return jnp.concatenate([plan[1:], jnp.zeros_like(plan[:1])])


def _objective(plan_env, plans, state, key, hp) -> jax.Array:
    """score_plans less the (optional) quadratic action cost of each plan."""
    effort = jnp.sum(plans.reshape(plans.shape[0], -1) ** 2, axis=1)
    return score_plans(plan_env, plans, state, key) - hp["action_cost"] * effort


def plan(plan_env, config: PlannerConfig, state: kernel.RolloutState, key: jax.Array,
         init_mean: jax.Array | None = None, hparams: dict | None = None) -> PlanResult:
    """Optimise an open-loop plan [H, *A] from `state` (1-env VecEnv RolloutState) with CEM or
    random shooting. `init_mean` (e.g. `shift_plan(previous.plan)`) warm-starts CEM; `hparams`
    (a subset of `config.hparams()`, possibly traced) overrides the config's numbers."""
    hp = {**config.hparams(), **(hparams or {})}
    shape = (config.horizon, *plan_env.action_space.shape)
    num_candidates = config.num_candidates

    if config.method == "random":
        sample_key, score_key = jax.random.split(key)
        plans = jax.random.uniform(sample_key, (num_candidates, *shape), minval=-1.0, maxval=1.0)
        scores = _objective(plan_env, plans, state, score_key, hp)
        best = jnp.argmax(scores)
        return PlanResult(plans[best], scores[best], plans.mean(0), plans.std(0))

    mean = jnp.zeros(shape) if init_mean is None else jnp.clip(init_mean, -1.0, 1.0)
    std = jnp.full(shape, hp["init_std"])

    def iteration(carry, key):
        mean, std, best_plan, best_score = carry
        sample_key, score_key = jax.random.split(key)
        noise = jax.random.normal(sample_key, (num_candidates, *shape))
        plans = jnp.clip(mean + std * noise, -1.0, 1.0).at[0].set(mean)  # the mean is a candidate
        scores = _objective(plan_env, plans, state, score_key, hp)
        elites = plans[jax.lax.top_k(scores, config.num_elites)[1]]
        mean = hp["alpha"] * mean + (1.0 - hp["alpha"]) * elites.mean(0)
        std = jnp.maximum(hp["alpha"] * std + (1.0 - hp["alpha"]) * elites.std(0), hp["min_std"])
        top = jnp.argmax(scores)
        better = scores[top] > best_score
        best_plan = jnp.where(better, plans[top], best_plan)
        return (mean, std, best_plan, jnp.where(better, scores[top], best_score)), None

    init = (mean, std, mean, jnp.array(-jnp.inf, jnp.float32))
    keys = jax.random.split(key, config.num_iterations + 1)
    # a scan over CEM refits, not env steps: each iteration scores its plans through the kernel
    (mean, std, best_plan, best_score), _ = jax.lax.scan(iteration, init, keys[1:])
    # the last refit's mean was never scored, and it often beats every sample: score it too
    mean_score = _objective(plan_env, mean[None], state, keys[0], hp)[0]
    better = mean_score > best_score
    return PlanResult(jnp.where(better, mean, best_plan), jnp.maximum(mean_score, best_score), mean, std)


@struct.dataclass
class PlanMemoryState:
    env_state: Any  # the wrapped VecEnv's state
    plan: jax.Array  # [E, H, *A] the rest of each env's current plan, shifted (warm start)


class PlanMemory(Wrapper):
    """Wraps a VecEnv so that the action is a whole plan [E, H, *A]: plan[:, 0] is executed and the
    plan, shifted by one step, is kept in the state (zeroed where an episode ended) for warm starts."""

    def __init__(self, env, horizon: int):
        super().__init__(env)
        self.plan_shape = (env.num_envs, horizon, *env.action_space.shape)

    def reset(self, key):
        obs, state = self.env.reset(key)
        return obs, PlanMemoryState(state, jnp.zeros(self.plan_shape))

    def step(self, key, state, action):
        res = self.env.step(key, state.env_state, action[:, 0])
        done = jnp.logical_or(res.terminated, res.truncated)
        shifted = jax.vmap(shift_plan)(action)
        memory = jnp.where(done.reshape(-1, *[1] * (shifted.ndim - 1)), 0.0, shifted)
        return res._replace(state=PlanMemoryState(res.state, memory))


def _check_planner_env(env, env_id: str) -> None:
    if not isinstance(env.action_space, Box):
        raise ValueError(f"{env_id}: the planner needs a continuous (Box) action space, got "
                         f"{env.action_space!r}; discrete action spaces are not supported")


def _check_compatible(real_env, plan_env, env_id: str) -> None:
    """One env of the real VecEnv's state, with a leading [1], must be a valid plan_env state."""
    key = jax.random.PRNGKey(0)
    real = jax.eval_shape(real_env.reset, key)[1]
    model = jax.eval_shape(plan_env.reset, key)[1]
    shapes = lambda tree: [x.shape[1:] + (x.dtype,) for x in jax.tree.leaves(tree)]
    if jax.tree.structure(real) != jax.tree.structure(model) or shapes(real) != shapes(model):
        raise TypeError(f"{env_id}: the planning env's state does not match the real env's state; "
                        "the planner cannot copy it")


def make_mpc_policy(plan_env, config: PlannerConfig) -> kernel.PolicyFn:
    """A kernel policy (context=True) that plans from each env's state in `ctx.env_state`.
    params are the planner hparams (`config.hparams()`). With `config.warm_start` (and CEM) the env
    must be wrapped in `PlanMemory` and the action is the whole plan; otherwise the first action."""
    warm = config.warm_start and config.method == "cem"

    def policy(params, obs, key, ctx):
        if warm and not isinstance(ctx.env_state, PlanMemoryState):
            raise TypeError("a warm-started MPC policy needs the real env wrapped in PlanMemory "
                            "(or PlannerConfig(warm_start=False))")
        env_state, memory = (ctx.env_state.env_state, ctx.env_state.plan) if warm else (ctx.env_state, None)

        def one(state, obs, init_mean, key):
            single = kernel.RolloutState(jax.tree.map(lambda x: x[None], state), obs[None])
            return plan(plan_env, config, single, key, init_mean, params)

        keys = jax.random.split(key, obs.shape[0])
        result = jax.vmap(one, in_axes=(0, 0, 0 if warm else None, 0))(env_state, obs, memory, keys)
        action = result.plan if warm else result.plan[:, 0]
        return action, {"plan_score": result.score}

    return policy


def make_mpc(env_id: str, config: PlannerConfig, num_envs: int, episode_steps: int | None = None,
             **env_kwargs) -> Callable[..., jax.Array]:
    """`run(key, hparams=None) -> returns[num_envs]`: one MPC episode per env, through the kernel.
    Jittable end to end and vmappable over keys (and over `hparams`, see PlannerConfig.hparams).
    `episode_steps` defaults to the env's time limit; an episode still running then reports its
    return so far."""
    config.validate()
    real_env = make(env_id, num_envs=num_envs, **env_kwargs)
    plan_env = make(env_id, num_envs=1, **env_kwargs)  # the model: same wrapped type, state copyable
    _check_planner_env(real_env, env_id)
    _check_compatible(real_env, plan_env, env_id)
    steps = int(episode_steps or real_env.max_episode_steps or 1000)
    warm = config.warm_start and config.method == "cem"
    env = PlanMemory(real_env, config.horizon) if warm else real_env
    policy = make_mpc_policy(plan_env, config)

    def run(key: jax.Array, hparams: dict | None = None) -> jax.Array:
        reset_key, rollout_key = jax.random.split(key)
        hp = {**config.hparams(), **(hparams or {})}
        _, (returns, _) = kernel.rollout(env, policy, hp, kernel.reset(env, reset_key), rollout_key, steps,
                                         context=True, fold=kernel.FIRST_EPISODE)
        return returns

    return run
