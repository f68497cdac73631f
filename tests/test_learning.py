"""Learning curves on real tasks (fixed seed, CPU). Each run stops once the threshold is reached.

Budgets (documented in the README): CartPole-v1 150k env steps for every objective; Pendulum-v1 100k env steps.
"""
import pytest

from ppo_lite import PPOConfig, train


def stop_at(threshold: float, last: int = 20):
    def callback(update: int, history) -> bool:
        return len(history.episodes["return"]) >= last and history.mean_return(last) >= threshold

    return callback


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["clip", "kl_adaptive", "kl_dual"])
def test_cartpole_reaches_475(objective):
    cfg = PPOConfig.for_env("CartPole-v1", objective=objective, seed=0, device="cpu", total_steps=150_000)
    history = train(cfg, progress=False, callback=stop_at(475))
    assert history.mean_return(20) >= 475, f"{objective}: mean of last 20 episodes {history.mean_return(20):.1f}"
    assert history["env_steps"][-1] <= 150_000
    if objective != "clip":
        assert all(c >= 0 for c in history["kl_coef"])  # β, η stay non-negative


@pytest.mark.slow
def test_pendulum_clip_reaches_minus_250():
    cfg = PPOConfig.for_env("Pendulum-v1", objective="clip", seed=0, device="cpu", total_steps=100_000)
    history = train(cfg, progress=False, callback=stop_at(-250))
    assert history.mean_return(20) >= -250, f"mean of last 20 episodes {history.mean_return(20):.1f}"
