"""ppo_lite: the small PyTorch library behind the PPO course (notebooks/ derive what each module implements)."""
from .config import PPOConfig
from .envs import make_env
from .history import History
from .trainer import Trainer, train

__version__ = "0.1.0"
__all__ = ["PPOConfig", "train", "Trainer", "History", "make_env", "evaluate"]


def evaluate(*args, **kwargs):
    """See :func:`ppo_lite.evaluation.evaluate`."""
    from .evaluation import evaluate as _evaluate

    return _evaluate(*args, **kwargs)
