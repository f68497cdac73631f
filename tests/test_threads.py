"""PPOConfig.num_threads: training runs at the configured torch thread count and gives the caller's back after."""
from __future__ import annotations

import pytest
import torch

from ppo_lite import PPOConfig, Trainer
from ppo_lite.batched import BatchedConfig, BatchedTrainer
from ppo_lite.config import torch_threads


def _seen_threads(trainer_cls, config):
    seen = []
    trainer = trainer_cls(config)
    trainer.run(progress=False, callback=lambda *a: seen.append(torch.get_num_threads()) or False)
    return seen


@pytest.mark.parametrize("make", ["single", "batched"])
def test_training_uses_the_configured_threads_and_restores_the_callers(make):
    config = PPOConfig.for_env("CartPole-v1", device="cpu", num_envs=4, num_steps=16, total_steps=128, num_threads=2)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if make == "single":
            seen = _seen_threads(Trainer, config)
        else:
            seen = _seen_threads(BatchedTrainer, BatchedConfig(config, seeds=[0, 1]))
        assert seen and set(seen) == {2}          # inside training: the config's count
        assert torch.get_num_threads() == 1       # after: the caller's again
    finally:
        torch.set_num_threads(before)


def test_none_keeps_torchs_count_and_the_context_restores_after_an_error():
    before = torch.get_num_threads()
    with torch_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with torch_threads(before + 1):
            assert torch.get_num_threads() == before + 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="num_threads"):
        PPOConfig.for_env("CartPole-v1", num_threads=bad).validate()
