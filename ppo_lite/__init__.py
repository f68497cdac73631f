"""ppo_lite: the small PyTorch library behind the PPO course (notebooks/ derive what each module implements).

Train, save, load, act::

    import ppo_lite
    config = ppo_lite.PPOConfig.for_env("CartPole-v1")     # or your env: "mypkg.envs:MyEnv", MyEnv, a factory
    ppo_lite.train(config, save_path="run.pt")
    agent = ppo_lite.load("run.pt")
    action = agent.predict(obs)                               # numpy in, numpy out
    returns = ppo_lite.evaluate(agent, episodes=20)
"""
from .config import PPOConfig
from .envs import make_env
from .history import History
from .interrupt import TrainingInterrupted
from .trainer import Trainer, train

__version__ = "0.1.0"
__all__ = ["PPOConfig", "train", "Trainer", "History", "make_env", "evaluate", "load", "Agent", "TrainingInterrupted"]


def evaluate(*args, **kwargs):
    """See :func:`ppo_lite.evaluation.evaluate`."""
    from .evaluation import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def load(*args, **kwargs):
    """See :func:`ppo_lite.agent.load`."""
    from .agent import load as _load

    return _load(*args, **kwargs)


def __getattr__(name: str):
    if name == "Agent":  # imported on first use, as evaluate and load are
        from .agent import Agent

        return Agent
    raise AttributeError(f"module 'ppo_lite' has no attribute {name!r}")
