"""The benchmark against published numbers (``ppo_lite.experiments.benchmark``): its configs, its statistics on
synthetic data (that flip when the data flip), and a tiny end-to-end run that resumes from its cell log."""
from __future__ import annotations

import json

import pytest

from ppo_lite.experiments import benchmark


def test_variant_configs():
    ppo = benchmark.variant_config("CartPole-v1", "ppo")
    pg = benchmark.variant_config("CartPole-v1", "pg")
    assert ppo.objective == "clip" and ppo.total_steps == 100_000
    assert pg.objective == "pg" and pg.update_epochs == 1
    assert {k: v for k, v in pg.to_dict().items() if k not in ("objective", "update_epochs")} == \
        {k: v for k, v in ppo.to_dict().items() if k not in ("objective", "update_epochs")}  # same config otherwise
    # MountainCar's default is the zoo's tuned settings; ppo_generic keeps the family's (CartPole's) for comparison
    zoo = benchmark.variant_config("MountainCar-v0", "ppo")
    assert (zoo.num_envs, zoo.num_steps, zoo.gamma, zoo.gae_lambda, zoo.update_epochs) == (16, 16, 0.99, 0.98, 4)
    assert zoo.norm_obs and zoo.scale_reward and zoo.minibatch_size == 64 and zoo.lr == 3e-4 and not zoo.anneal_lr
    generic = benchmark.variant_config("MountainCar-v0", "ppo_generic")
    cartpole = benchmark.variant_config("CartPole-v1", "ppo")
    assert {k: v for k, v in generic.to_dict().items() if k not in ("env_id", "total_steps")} == \
        {k: v for k, v in cartpole.to_dict().items() if k not in ("env_id", "total_steps")}
    assert generic.total_steps == zoo.total_steps == 1_000_000
    with pytest.raises(ValueError, match="ppo_generic"):
        benchmark.variant_config("CartPole-v1", "ppo_generic")
    with pytest.raises(ValueError, match="no task"):
        benchmark.variant_config("Pong-v5", "ppo")
    # every task has the zoo's PPO number, with its budget
    for env_id in benchmark.TASKS:
        assert any(p.algorithm == "PPO" and p.source.startswith("rl-baselines3-zoo") for p in benchmark.PUBLISHED[env_id])


def _row(env_id, variant, seeds):
    return {"env_id": env_id, "variant": variant, "per_seed": seeds}


def test_compare_calls_a_difference_only_when_it_survives_holm():
    clear = [_row("CartPole-v1", "ppo", [500, 498, 499, 500, 497]), _row("CartPole-v1", "pg", [120, 150, 90, 200, 130])]
    noisy = [_row("Pendulum-v1", "ppo", [-200, -900, -300, -1100, -150]), _row("Pendulum-v1", "pg", [-400, -700, -500, -900, -300])]
    out = {r["env_id"]: r for r in benchmark.compare(clear + noisy)}
    assert out["CartPole-v1"]["ppo_better"] and not out["Pendulum-v1"]["ppo_better"] and not out["Pendulum-v1"]["pg_better"]
    assert out["CartPole-v1"]["p_holm"] >= out["CartPole-v1"]["p"]
    flipped = [dict(r, variant="pg" if r["variant"] == "ppo" else "ppo") for r in clear]
    assert benchmark.compare(flipped)[0]["pg_better"]


def test_benchmark_end_to_end_resumes(tmp_path):
    argv = ["--envs", "CartPole-v1", "--steps", "512", "--seeds", "2", "--episodes", "2", "--outdir", str(tmp_path), "--no-progress"]
    assert benchmark.main(argv + ["--max-cells", "1"]) == 0
    data = json.loads((tmp_path / "benchmark.json").read_text())
    assert data["cells_done"] == 1 and "CartPole-v1/pg" in data["missing"] and "git_commit" in data["meta"]
    assert benchmark.main(argv) == 0
    data = json.loads((tmp_path / "benchmark.json").read_text())
    assert [r["variant"] for r in data["summary"]] == ["ppo", "pg"] and data["summary"][0]["budget"] == 512
    assert len(data["ppo_vs_pg"]) == 1 and all(len(r["per_seed"]) == 2 for r in data["summary"])
    assert all(len(run["eval_returns"]) == 2 for c in data["cells"] for run in c["runs"])
    lines = (tmp_path / "benchmark.cells.jsonl").read_text().splitlines()
    assert benchmark.main(argv) == 0 and (tmp_path / "benchmark.cells.jsonl").read_text().splitlines() == lines


def test_benchmark_refuses_bad_input_before_training(tmp_path):
    for argv, match in ((["--envs", "Pong-v5"], "unknown task"), (["--variants", "trpo"], "unknown variant"),
                        (["--seeds", "1"], "--seeds"), (["--envs", "CartPole-v1", "--steps", "10"], "smaller than one rollout")):
        with pytest.raises(SystemExit, match=match):
            benchmark.main(argv + ["--outdir", str(tmp_path)])
    assert not any(tmp_path.iterdir())
