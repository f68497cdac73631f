"""The unit of every sweep (ppo_lite.experiments.sweep) and the log that lets a sweep resume (ppo_lite.experiments.CellLog)."""
import json
import statistics

import pytest
import torch

from ppo_lite import PPOConfig
from ppo_lite.batched import BatchedConfig, BatchedTrainer
from ppo_lite.evaluation import evaluate_agents, random_policy_returns
from ppo_lite.experiments import CellLog, provenance_of_cells
from ppo_lite.experiments.sweep import area_under_curve, normalized_score, score_agents, thin_curve


def test_score_agents_drops_a_diverging_agent_and_scores_the_rest_as_their_own_batch():
    base = PPOConfig.for_env("CartPole-v1", total_steps=1024, device="cpu")
    runs = score_agents(base, [0, 1, 2], {"lr": [1e-3, 1e30, 1e-3]}, episodes=2)
    assert [r["seed"] for r in runs] == [0, 1, 2] and [r["lr"] for r in runs] == [1e-3, 1e30, 1e-3]
    assert runs[1]["diverged"] and runs[1]["eval_return"] is None and "agent 1 (seed 1" in runs[1]["diverged_at"]
    # the survivors are exactly a batch of seeds [0, 2] trained alone, evaluated on the same held-out episodes
    trainer = BatchedTrainer(BatchedConfig(base=base, seeds=[0, 2], lr=[1e-3, 1e-3]))
    trainer.run(progress=False)
    expected = evaluate_agents(trainer, episodes=2)
    trainer.env.close()
    for r, e, h in zip((runs[0], runs[2]), expected, trainer.histories):
        assert not r["diverged"] and r["eval_returns"] == [round(v, 2) for v in e]
        assert r["eval_return"] == pytest.approx(sum(e) / 2, abs=1e-3)
        assert r["final_train"] == pytest.approx(h.mean_return(20), abs=1e-3)
        assert r["auc"] == pytest.approx(area_under_curve(h.smoothed_returns()), abs=1e-3)
        assert r["curve_steps"][-1] == 1024


def test_score_agents_refuses_bad_input():
    base = PPOConfig.for_env("CartPole-v1", total_steps=512, device="cpu")
    with pytest.raises(ValueError, match="num_envs"):
        score_agents(base, [0], {"num_envs": [4.0]})
    with pytest.raises(ValueError, match="2 values for 1 seeds"):
        score_agents(base, [0], {"lr": [1e-3, 1e-4]})


def test_thin_curve_and_auc():
    steps, curve = thin_curve(list(range(1, 101)), [float(i) for i in range(100)], 5)
    assert steps == [1, 26, 51, 75, 100] and curve[0] == 0.0 and curve[-1] == 99.0
    assert thin_curve([1, 2], [float("nan"), 3.0], 5) == ([1, 2], [None, 3.0])
    assert area_under_curve([float("nan"), 1.0, 3.0]) == 2.0


def test_random_policy_returns_match_the_known_levels():
    # CartPole: about 22 steps (a uniform policy); Acrobot: almost never swings up in 500 steps; Pendulum ~ -1200
    assert 18 < statistics.mean(random_policy_returns("CartPole-v1", 200)) < 26
    assert statistics.mean(random_policy_returns("Acrobot-v1", 50)) < -480
    assert -1400 < statistics.mean(random_policy_returns("Pendulum-v1", 50)) < -1000
    assert normalized_score(475.0, "CartPole-v1", 22.0) == 1.0 and normalized_score(22.0, "CartPole-v1", 22.0) == 0.0
    with pytest.raises(ValueError, match="threshold"):
        normalized_score(0.0, "Hopper-v5", 0.0)


def test_cell_log_resumes_by_key_and_protocol(tmp_path):
    log = CellLog(tmp_path / "x.cells.jsonl")
    assert log.cells() == {} and log.done("a", {"n": 1}) is None
    log.append("a", {"n": 1}, {"value": 1})
    log.append("b", {"n": 1}, {"value": 2})
    assert log.done("a", {"n": 1})["value"] == 1
    assert log.done("a", {"n": 2}) is None                     # another protocol: recompute
    log.append("a", {"n": 2}, {"value": 3})                     # the newer line wins
    assert log.done("a", {"n": 2})["value"] == 3 and log.done("a", {"n": 1}) is None
    with log.path.open("a") as fh:                              # a writer killed mid-line
        fh.write('{"key": "c", "protoc')
    assert set(log.cells()) == {"a", "b"}
    cells = list(log.cells().values())
    assert all(len(c["git_commit"]) >= 40 or c["git_commit"] == "unknown" for c in cells)
    prov = provenance_of_cells(cells + [dict(cells[0], git_commit="0" * 40)])
    assert len(prov["cell_commits"]) == 2 and "2 commits" in prov["provenance_note"]


def test_regeneration_command_drops_what_does_not_change_the_results():
    from ppo_lite.experiments import regeneration_command

    argv = ["--envs", "CartPole-v1", "--max-cells", "3", "--no-progress", "--seeds", "10", "--max-cells=2"]
    assert regeneration_command("python -m ppo_lite.experiments ablation", argv) == \
        "python -m ppo_lite.experiments ablation --envs CartPole-v1 --seeds 10"
