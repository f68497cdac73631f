"""Building blocks of the notebook 06/07 experiments: config builders, intervals, tiny end-to-end runs, checkers."""
from __future__ import annotations

import json
import subprocess
import math

import pytest
import torch

from ppo_lite.exercises import nb06 as ex06
from ppo_lite.exercises import nb07 as ex07
from ppo_lite.experiments import ablation, assembled
from ppo_lite.experiments.__main__ import main as run_and_draw  # python -m ppo_lite.experiments: runs, then draws


# -- ablation: the design -------------------------------------------------------------------------------------
def test_settings_are_all_on_leave_one_out_and_all_off():
    names = ablation.settings()
    assert names[0] == "all on" and names[-1] == "all off" and len(names) == len(ablation.DETAILS) + 2
    assert ablation.details_off("all on") == set()
    assert ablation.details_off("all off") == set(ablation.DETAILS) - set(ablation.STRUCTURAL)
    with pytest.raises(ValueError, match="unknown setting"):
        ablation.details_off("no tanh")
    with pytest.raises(ValueError, match="unknown detail"):
        ablation.settings(["tanh"])


@pytest.mark.parametrize("env_id", list(ablation.TASKS))
def test_leave_one_out_changes_exactly_that_detail(env_id):
    on = ablation.config_for(env_id, "clip", "all on").to_dict()
    for name, (on_values, off_values) in ablation.detail_values(env_id).items():
        assert all(on[k] == v for k, v in on_values.items()), name
        off = ablation.config_for(env_id, "clip", f"no {name}").to_dict()
        changed = {k for k in on if on[k] != off[k]}
        assert changed == set(off_values), (name, changed)
    all_off = ablation.config_for(env_id, "surrogate", "all off")
    assert not (all_off.norm_adv or all_off.clip_value or all_off.norm_obs or all_off.scale_reward or all_off.ortho_init
                or all_off.anneal_lr) and all_off.max_grad_norm is None and all_off.ent_coef == 0.0
    assert all_off.update_epochs == ablation.TASKS[env_id]["update_epochs"] > 1
    assert all_off.objective == "surrogate"


def test_config_for_refuses_bad_input():
    with pytest.raises(ValueError, match="MountainCar-v0"):
        ablation.config_for("MountainCar-v0", "clip", "all on")
    with pytest.raises(ValueError, match="objective 'pg'"):
        ablation.config_for("CartPole-v1", "pg", "all on")


# -- ablation: the statistics ---------------------------------------------------------------------------------
def test_t_interval_by_hand():
    # x = 1..5: mean 3, s = sqrt(2.5), half width t_{0.975,4} s / sqrt(5) = 2.776 * 0.70711 = 1.96293
    mean, lo, hi = ablation.t_interval([1, 2, 3, 4, 5])
    assert mean == 3.0 and lo == pytest.approx(3 - 1.96293, abs=1e-4) and hi == pytest.approx(3 + 1.96293, abs=1e-4)
    with pytest.raises(ValueError, match="at least 2"):
        ablation.t_interval([1.0])


def test_t_interval_covers_a_known_mean_95_percent_of_the_time():
    gen = torch.Generator().manual_seed(0)
    hits = 0
    trials = 2000
    for _ in range(trials):
        _, lo, hi = ablation.t_interval((torch.randn(5, generator=gen) * 3 + 7).tolist())
        hits += lo <= 7 <= hi
    assert abs(hits / trials - 0.95) < 0.015  # binomial sd 0.005


def test_bootstrap_width_matches_known_variance():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(400, generator=gen).tolist()  # sd 1: the 95% interval of the mean is about +-1.96/20
    mean, lo, hi = ablation.bootstrap_ci(x, n_boot=4000)
    assert lo < mean < hi and (hi - lo) == pytest.approx(2 * 1.96 / 20, rel=0.12)
    d, dlo, dhi = ablation.bootstrap_diff_ci([x_ + 1.0 for x_ in x], x, n_boot=4000)
    assert d == pytest.approx(1.0) and dlo > 0.6 and dhi < 1.4


# -- tiny end-to-end runs -------------------------------------------------------------------------------------
def test_ablation_end_to_end(tmp_path):
    argv = ["--envs", "CartPole-v1", "--objectives", "clip", "--details", "epochs", "--seeds", "2", "--steps", "512",
            "--outdir", str(tmp_path), "--no-progress", "--log", str(tmp_path / "cells.jsonl")]
    assert run_and_draw(["ablation", *argv]) == 0
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert (tmp_path / "ablation.png").stat().st_size > 1000
    assert data["settings"] == ["all on", "no epochs", "all off"] and len(data["runs"]) == 6
    assert all(r["final_return"] is not None and r["final_return"] > 0 for r in data["runs"])
    row = data["summary"][0]
    assert row["final_return_ci"][0] <= row["final_return"] <= row["final_return_ci"][1]
    assert data["meta"]["command"].startswith(ablation.COMMAND)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert data["meta"]["git_commit"].split("+")[0] == head and len(head) == 40  # which code made the file
    # resuming from the log trains nothing and gives the same summary; the experiment itself draws nothing
    (tmp_path / "ablation.png").unlink()
    assert ablation.main(argv[:-2] + ["--log", str(tmp_path / "cells.jsonl"), "--only-log"]) == 0
    assert not (tmp_path / "ablation.png").exists()
    assert json.loads((tmp_path / "ablation.json").read_text())["summary"] == data["summary"]


def test_assembled_end_to_end(tmp_path):
    argv = ["--envs", "CartPole-v1", "--objectives", "clip", "kl_dual", "--seeds", "2", "--steps", "512",
            "--outdir", str(tmp_path), "--no-progress"]
    assert run_and_draw(["assembled", *argv]) == 0
    data = json.loads((tmp_path / "assembled.json").read_text())
    assert (tmp_path / "assembled.png").stat().st_size > 1000
    by = {r["objective"]: r for r in data["runs"] if r["seed"] == 0}
    assert all(v is None for v in by["clip"]["updates"]["kl_coef"])            # no controller for clip
    assert all(v is not None and v >= 0 for v in by["kl_dual"]["updates"]["kl_coef"])  # eta is traced
    assert len(by["kl_dual"]["updates"]["approx_kl"]) == 512 // 256


def test_assembled_refuses_bad_input():
    with pytest.raises(ValueError, match="kl_fixed"):
        assembled.task_config("CartPole-v1", "kl_fixed")
    with pytest.raises(ValueError, match="Hopper"):
        assembled.task_config("Hopper-v5", "clip")


# -- the exercises' checkers ----------------------------------------------------------------------------------
def test_checkers_pass_the_reference_and_catch_wrong_answers():
    assert ex06.check_explained_variance(ex06.reference_explained_variance)
    assert not ex06.check_explained_variance(lambda values, returns: 1 - values.var() / returns.var())
    assert ex06.check_clip_fraction(ex06.reference_clip_fraction)
    assert not ex06.check_clip_fraction(lambda ratio, clip_eps: ((ratio - 1) > clip_eps).double().mean())
    assert ex07.check_t_interval(ex07.reference_t_interval)
    z = lambda x: (x.mean().item(), x.mean().item() - 1.96 * x.std().item() / len(x) ** 0.5,  # noqa: E731
                   x.mean().item() + 1.96 * x.std().item() / len(x) ** 0.5)
    assert not ex07.check_t_interval(z)
    assert ex07.check_leave_one_out(ex07.reference_config)

    def all_off_too_much(env_id, objective, setting):
        cfg = ablation.config_for(env_id, objective, setting)
        return cfg.replace(update_epochs=1) if setting == "all off" else cfg

    assert not ex07.check_leave_one_out(all_off_too_much)
