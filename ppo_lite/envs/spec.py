"""Which environment a run trains on, written as one string a config and a checkpoint can hold.

A user names an environment in any of the ways gymnasium users do, and :func:`env_id_of` turns it into the string
kept in ``PPOConfig.env_id``:

- a registered gymnasium id: ``"CartPole-v1"``;
- gymnasium's ``"module:Id"``: ``module`` is imported (registering ``Id``), then ``Id`` is made;
- ``"module:Name"`` where ``module.Name`` is a ``gymnasium.Env`` subclass or a zero-argument factory: made directly,
  no registration needed (the CLI's ``--env mypkg.envs:MyEnv``);
- the class or factory itself: recorded as ``"module:QualName"`` when that string imports it back in a fresh process,
  else (a lambda, a closure, a class defined in a script or notebook) kept in this process only, under an id a
  fresh process recognises and refuses in one line naming what to pass (:func:`unrecorded_message`).

``env_kwargs`` (``PPOConfig.env_kwargs``) go to the env's constructor through ``gymnasium.make``, which also reads
its own keywords from them (``max_episode_steps`` adds a time limit to an env without one).
"""
from __future__ import annotations

import difflib
import importlib
import inspect
import re
from typing import Any, Callable

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec

__all__ = ["env_id_of", "gym_spec", "is_entry_point", "unrecorded_message", "check_gym_id"]

# Objects that no string can import back, kept for this process: id -> class or factory.
_UNRECORDED: dict[str, Callable[..., gym.Env]] = {}
UNRECORDED_PREFIX = "unrecorded:"


def env_id_of(env: Any) -> str:
    """The ``PPOConfig.env_id`` string for ``env``: a str as given; a class or zero-argument callable as the
    ``"module:QualName"`` that imports it, or an ``unrecorded:...`` id when nothing can import it."""
    if isinstance(env, str):
        return env
    if isinstance(env, gym.Env):
        raise TypeError(
            f"got an env instance ({type(env).__name__}); ppo_lite makes num_envs copies of an env, so pass its class "
            f"({type(env).__name__}), a zero-argument function that returns one, or a gymnasium id"
        )
    if isinstance(env, type) and not issubclass(env, gym.Env):
        raise TypeError(f"env class {env.__name__} is not a gymnasium.Env subclass")
    if not callable(env):
        raise TypeError(f"env must be a gymnasium id, 'module:Id', a gymnasium.Env subclass or a zero-argument "
                        f"callable returning one; got {type(env).__name__} {env!r}")
    module, qualname = getattr(env, "__module__", None), getattr(env, "__qualname__", None)
    if module and qualname and module != "__main__" and _importable(module, qualname) is env:
        return f"{module}:{qualname}"
    name = re.sub(r"[^\w.-]", "_", f"{module}.{qualname}" if module and qualname else type(env).__name__)
    env_id = f"{UNRECORDED_PREFIX}{name}"
    k = 1
    while _UNRECORDED.get(env_id, env) is not env:  # two different lambdas must not share an id
        k += 1
        env_id = f"{UNRECORDED_PREFIX}{name}-{k}"
    _UNRECORDED[env_id] = env
    return env_id


def _importable(module: str, qualname: str) -> Any:
    """``module.qualname`` imported, or None when it does not import (a ``<locals>`` name, a missing module)."""
    if "<" in qualname:
        return None
    try:
        obj: Any = importlib.import_module(module)
    except ImportError:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def unrecorded_message(env_id: str) -> str:
    return (f"env {env_id!r} was given as an object no import can rebuild (a lambda, a closure, or a class "
            "defined in a script or notebook), so this process cannot make it: pass it again (env=... to "
            "ppo_lite.load or ppo_lite.evaluate, or PPOConfig.for_env(...) before training), or define it in an "
            "importable module and name it 'module:Name'")


def is_entry_point(env_id: str) -> bool:
    """Whether ``env_id`` names a class or factory (``unrecorded:...``, or ``module:Name`` that is not a registered
    gymnasium id) rather than a gymnasium id."""
    return env_id.startswith(UNRECORDED_PREFIX) or (":" in env_id and _entry_point(env_id) is not None)


def _entry_point(env_id: str) -> Callable[..., gym.Env] | None:
    """The class or factory ``module:Name`` names, or None when ``Name`` is a gymnasium id (the module registers
    it). Raises a one-line ``ValueError`` when the module does not import or has neither."""
    module, _, name = env_id.partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"env {env_id!r}: cannot import module {module!r} ({exc})") from None
    if name in gym.registry:
        return None
    obj = _importable(module, name) if mod is not None else None
    if obj is None:
        raise ValueError(f"env {env_id!r}: module {module!r} neither registers a gymnasium id {name!r} nor defines "
                         f"{name!r} (a gymnasium.Env subclass or a factory)")
    if not callable(obj) or (isinstance(obj, type) and not issubclass(obj, gym.Env)):
        raise ValueError(f"env {env_id!r}: {module}.{name} is not a gymnasium.Env subclass or a callable")
    return obj


def gym_spec(env_id: str) -> str | EnvSpec:
    """What ``gymnasium.make``/``make_vec`` should be given for ``env_id``: the id itself, or an ``EnvSpec`` whose
    entry point is the class or factory (so nothing is added to gymnasium's global registry)."""
    if env_id.startswith(UNRECORDED_PREFIX):
        if env_id not in _UNRECORDED:
            raise ValueError(unrecorded_message(env_id))
        obj = _UNRECORDED[env_id]
    elif ":" in env_id:
        obj = _entry_point(env_id)
        if obj is None:
            return env_id
    else:
        return env_id
    name = re.sub(r"[^\w.-]", "_", env_id.split(":", 1)[1])
    return EnvSpec(id=f"ppo_lite_custom/{name}", entry_point=_as_creator(obj))


def _as_creator(obj: Callable[..., gym.Env]) -> Callable[..., gym.Env]:
    """gymnasium calls an entry point with the env kwargs; a zero-argument factory given kwargs is refused clearly."""
    if isinstance(obj, type):
        return obj

    def creator(**kwargs: Any) -> gym.Env:
        try:
            inspect.signature(obj).bind(**kwargs)
        except TypeError as exc:
            raise ValueError(f"env factory {getattr(obj, '__qualname__', obj)!r} does not take env_kwargs "
                             f"{sorted(kwargs)} ({exc})") from None
        env = obj(**kwargs)
        if not isinstance(env, gym.Env):
            raise ValueError(f"env factory {getattr(obj, '__qualname__', obj)!r} returned "
                             f"{type(env).__name__}, not a gymnasium.Env")
        return env

    return creator


def check_gym_id(env_id: str) -> None:
    """Raise a one-line ``ValueError`` for an id gymnasium does not know, with the closest registered ids (a typo)
    or the versions that exist (``HalfCheetah-v3`` -> ``HalfCheetah-v5``)."""
    if env_id.startswith(UNRECORDED_PREFIX):
        gym_spec(env_id)
        return
    if ":" in env_id:
        if _entry_point(env_id) is not None:  # imports the module; refuses a missing name in one line
            return  # a class or factory: nothing to look up
        env_id = env_id.split(":", 1)[1]  # the module registered it
    if env_id in gym.registry:
        return
    base = env_id.split("-v")[0]
    versions = sorted(k for k in gym.registry if k.split("-v")[0] == base and k != env_id)
    if versions:
        raise ValueError(f"unknown env id {env_id!r}: gymnasium registers {base} as {versions}; use {versions[-1]!r}")
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    raise ValueError(
        f"unknown env id {env_id!r}: not registered in gymnasium"
        + (f"; did you mean {' or '.join(map(repr, close))}?" if close else "; see gymnasium.registry.keys(), "
           "or pass your own env as 'module:Name', a gymnasium.Env subclass or a factory")
    )
