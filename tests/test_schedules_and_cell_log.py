"""The clip-range schedule lives in PPOConfig (both trainers follow it), and a cell log survives a new neutral field."""
import pytest
import torch

import ppo_lite.trainer as trainer_module
from ppo_lite import PPOConfig, Trainer
from ppo_lite.batched import BatchedConfig, BatchedTrainer
from ppo_lite.experiments import NEUTRAL_NEW_FIELDS, CellLog, same_protocol


def test_config_schedules():
    cfg = PPOConfig.for_env("CartPole-v1", total_steps=1024, lr=1e-3, clip_eps=0.3)  # 4 updates of 256 samples
    assert [cfg.lr_at(k) for k in range(4)] == pytest.approx([1e-3, 7.5e-4, 5e-4, 2.5e-4])
    assert [cfg.clip_eps_at(k) for k in range(4)] == [0.3] * 4
    annealed = cfg.replace(anneal_clip_eps=True)
    assert [annealed.clip_eps_at(k) for k in range(4)] == pytest.approx([0.3, 0.225, 0.15, 0.075])


def test_trainer_clips_each_update_at_its_scheduled_range(monkeypatch):
    seen = []
    real = trainer_module.update

    def spy(*args, **kwargs):
        seen.append(args[7] if len(args) > 7 else kwargs["clip_eps"])
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "update", spy)
    cfg = PPOConfig.for_env("CartPole-v1", total_steps=1024, device="cpu", anneal_clip_eps=True)
    Trainer(cfg).run(progress=False)
    assert seen == pytest.approx([0.2, 0.15, 0.1, 0.05])


def test_batched_trainer_follows_the_same_schedule_per_agent():
    base = PPOConfig.for_env("CartPole-v1", total_steps=1024, device="cpu", anneal_clip_eps=True)
    trainer = BatchedTrainer(BatchedConfig(base, seeds=[0, 1], clip_eps=[0.2, 0.4]))
    seen = []
    trainer.run(progress=False, callback=lambda u, hs: seen.append(trainer.hp.clip_eps.tolist()) and False)
    assert seen == [pytest.approx([0.2 * f, 0.4 * f]) for f in (1.0, 0.75, 0.5, 0.25)]


def test_a_stored_protocol_matches_a_new_field_only_at_its_neutral_value(tmp_path):
    old = {"config": {"lr": 0.001, "hidden": [64, 64]}, "seeds": [0, 1]}
    assert same_protocol(old, {"config": {"lr": 0.001, "hidden": (64, 64)}, "seeds": [0, 1]})  # tuples read as lists
    for name, neutral in NEUTRAL_NEW_FIELDS.items():
        assert same_protocol(old, {"config": {"lr": 0.001, "hidden": [64, 64], name: neutral}, "seeds": [0, 1]})
        assert not same_protocol(old, {"config": {"lr": 0.001, "hidden": [64, 64], name: not neutral}, "seeds": [0, 1]})
    assert not same_protocol(old, {"config": {"lr": 0.001, "hidden": [64, 64], "brand_new": 0}, "seeds": [0, 1]})
    assert not same_protocol(old, {"config": {"lr": 0.002, "hidden": [64, 64]}, "seeds": [0, 1]})
    log = CellLog(tmp_path / "x.cells.jsonl")
    log.append("a", old, {"value": 1})
    assert log.done("a", {**old, "config": {**old["config"], "anneal_clip_eps": False}})["value"] == 1
    log.append("a", {**old, "seeds": [2]}, {"value": 2})  # the newer line of a key wins; the parse is renewed
    assert log.done("a", old) is None and log.done("a", {**old, "seeds": [2]})["value"] == 2
