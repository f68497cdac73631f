"""Building blocks of the notebook 06/07 experiments: config builders, intervals, tiny end-to-end runs, checkers."""
from __future__ import annotations

import json
import subprocess
import math

import pytest
import torch

from ppo_lite.course.exercises import nb06 as ex06
from ppo_lite.course.exercises import nb07 as ex07
from ppo_lite.config import PPOConfig
from ppo_lite.experiments import ablation, assembled
from ppo_lite.experiments.__main__ import main as run_and_draw  # python -m ppo_lite.experiments: runs, then draws


# -- ablation: the design -------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", list(ablation.TASKS))
def test_all_on_is_the_tuned_defaults_and_leave_one_out_changes_exactly_that_detail(env_id):
    defaults = PPOConfig.for_env(env_id).to_dict()
    on = ablation.config_for(env_id, "clip", "all on").to_dict()
    assert {k for k in on if on[k] != defaults[k]} <= {"total_steps", "device"}   # "all on" is the tuned family
    names = ablation.settings(env_id)
    assert names[0] == "all on" and names[-1] == "all off" and len(names) == len(ablation.details_on(env_id)) + 2
    for d in ablation.details_on(env_id):
        off = ablation.config_for(env_id, "clip", f"no {d}").to_dict()
        assert {k for k in on if on[k] != off[k]} == set(ablation.SWITCHES[d]), d
    all_off = ablation.config_for(env_id, "surrogate", "all off")
    assert not any(ablation.detail_is_on(all_off, d) for d in ablation.DETAILS)
    assert all_off.update_epochs == on["update_epochs"] > 1 and all_off.num_minibatches == on["num_minibatches"]
    assert all_off.objective == "surrogate"


def test_details_on_reads_the_defaults():
    assert ablation.details_on("CartPole-v1") == ["norm_adv", "ortho_init", "anneal_lr", "grad_clip"]
    assert "norm_obs" in ablation.details_on("Acrobot-v1") and "scale_reward" in ablation.details_on("Pendulum-v1")


def test_config_for_refuses_bad_input():
    with pytest.raises(ValueError, match="MountainCar-v0"):
        ablation.config_for("MountainCar-v0", "clip", "all on")
    with pytest.raises(ValueError, match="objective 'pg'"):
        ablation.config_for("CartPole-v1", "pg", "all on")
    with pytest.raises(ValueError, match="no scale_reward"):        # CartPole's defaults do not scale rewards
        ablation.config_for("CartPole-v1", "clip", "no scale_reward")


def test_jobs_put_the_main_comparison_first():
    order = ablation.jobs(list(ablation.TASKS), list(ablation.OBJECTIVES))
    first = len(ablation.TASKS) * 2 * len(ablation.OBJECTIVES)
    assert all(s in ("all on", "all off") for _, _, s in order[:first])
    assert all(s.startswith("no ") for _, _, s in order[first:]) and len(set(order)) == len(order)


# -- ablation: the statistics on synthetic cells --------------------------------------------------------------
def _cell(env_id, objective, setting, scores):
    return {"env_id": env_id, "objective": objective, "setting": setting, "lr": 1e-3, "seconds": 1.0,
            "runs": [{"seed": i, "diverged": False, "eval_return": v, "auc": v} for i, v in enumerate(scores)]}


def _synthetic(clip_on, kl_on, sur_on, clip_off, noise=1.0):
    gen = torch.Generator().manual_seed(0)
    out = []
    for env in ablation.TASKS:
        for o, on, off in (("clip", clip_on, clip_off), ("kl_dual", kl_on, clip_off), ("surrogate", sur_on, clip_off)):
            for s, level in (("all on", on), ("all off", off)):
                out.append(_cell(env, o, s, (level + noise * torch.randn(10, generator=gen, dtype=torch.float64)).tolist()))
    return out


RANDOM = {e: 0.0 for e in ablation.TASKS}


def test_verdict_holds_when_details_help_and_clip_equals_kl():
    a = ablation.analyze(_synthetic(clip_on=100, kl_on=100, sur_on=50, clip_off=20), RANDOM)
    assert a["verdict"]["status"] == "holds"
    assert a["verdict"]["trust_region_helps"] == list(ablation.TASKS)
    labels = {(r["env_id"], r["label"]): r for r in a["objective"]}
    r = labels[("CartPole-v1", "all on: clip − surrogate")]
    assert r["significant"] and r["ci_adjusted"][0] < r["ci"][0] and r["p_holm"] >= r["p"]   # adjusted is wider


def test_verdict_does_not_hold_when_the_objective_decides():
    a = ablation.analyze(_synthetic(clip_on=100, kl_on=60, sur_on=50, clip_off=100), RANDOM)
    assert a["verdict"]["status"] == "does not hold" and a["verdict"]["details_help"] == []
    assert a["verdict"]["clip_vs_kl_all_on"] == list(ablation.TASKS)


def test_noise_alone_is_rarely_called_under_holm():
    a = ablation.analyze(_synthetic(clip_on=0, kl_on=0, sur_on=0, clip_off=0, noise=10.0), RANDOM)
    calls = [r for fam in ("objective", "details") for r in a[fam] if r["significant"]]
    assert not calls
    assert {row["objective"] for row in a["iqm"]} == set(ablation.OBJECTIVES)
    assert all(0.0 <= r["p"] <= 1.0 and r["ci"][0] <= r["p"] <= r["ci"][1] for r in a["improvement"])


def test_a_diverged_run_scores_as_a_random_policy():
    cell = _cell("CartPole-v1", "clip", "all on", [500.0, 500.0])
    cell["runs"][1].update(diverged=True, eval_return=None)
    assert ablation.final_scores(cell, "eval_return", 22.0) == [500.0, 22.0]


# -- tiny end-to-end runs -------------------------------------------------------------------------------------
def test_ablation_end_to_end_resumes_from_its_cell_log(tmp_path):
    argv = ["--envs", "CartPole-v1", "--objectives", "clip", "surrogate", "--seeds", "2", "--tuning-seeds", "100",
            "--lr-grid", "1e-3", "3e-3", "--steps", "512", "--episodes", "2", "--outdir", str(tmp_path), "--no-progress",
            "--max-cells", "3"]
    assert ablation.main(argv) == 0
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert data["cells_done"] == 3 and not data["complete"]
    assert [(c["objective"], c["setting"]) for c in data["cells"]] == [("clip", "all on"), ("surrogate", "all on"), ("clip", "all off")]
    cell = data["cells"][0]
    assert cell["lr"] in (1e-3, 3e-3) and len(cell["tuning"]) == 2 and len(cell["runs"]) == 2
    assert all(r["eval_return"] is not None and len(r["eval_returns"]) == 2 for r in cell["runs"])
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert data["meta"]["git_commit"].split("+")[0] == head and data["cell_commits"][0].split("+")[0] == head
    assert data["meta"]["command"].startswith(ablation.COMMAND)
    # run again: the three logged cells are reused (nothing retrained), the fourth is computed, then the figure drawn
    lines = (tmp_path / "ablation.cells.jsonl").read_text().splitlines()
    assert run_and_draw(["ablation", *argv[:-1], "1"]) == 0
    again = json.loads((tmp_path / "ablation.json").read_text())
    assert again["cells_done"] == 4 and again["cells"][:3] == data["cells"]
    assert (tmp_path / "ablation.cells.jsonl").read_text().splitlines()[:3] == lines
    assert (tmp_path / "ablation.png").stat().st_size > 1000
    # another protocol (a different budget) does not reuse the logged cells
    assert ablation.main([*argv[:argv.index("--steps") + 1], "768", *argv[argv.index("--steps") + 2:-1], "0"]) == 0
    assert json.loads((tmp_path / "ablation.json").read_text())["cells_done"] == 0


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
    assert all(len(r["eval_returns"]) == 10 for r in data["runs"]) and data["complete"]
    assert data["summary"][0]["eval_return_ci"][0] <= data["summary"][0]["eval_return"] <= data["summary"][0]["eval_return_ci"][1]
    # a rerun computes nothing: every cell is in the log
    lines = (tmp_path / "assembled.cells.jsonl").read_text().splitlines()
    assert assembled.main(argv) == 0
    assert (tmp_path / "assembled.cells.jsonl").read_text().splitlines() == lines


def test_assembled_sweep_refuses_bad_input_before_training(tmp_path):
    with pytest.raises(SystemExit, match="kl_fixed"):
        assembled.main(["--objectives", "kl_fixed", "--outdir", str(tmp_path)])
    with pytest.raises(SystemExit, match="--seeds"):
        assembled.main(["--seeds", "1", "--outdir", str(tmp_path)])
    assert not any(tmp_path.iterdir())


def test_assembled_refuses_bad_input():
    with pytest.raises(ValueError, match="kl_fixed"):
        assembled.task_config("CartPole-v1", "kl_fixed")
    with pytest.raises(ValueError, match="Hopper"):
        assembled.task_config("Hopper-v5", "clip")


# -- the exercises' checkers ----------------------------------------------------------------------------------
def test_checkers_pass_the_reference_and_catch_wrong_answers():
    assert ex06.check_explained_variance(ex06._reference_explained_variance)
    assert not ex06.check_explained_variance(lambda values, returns: 1 - values.var() / returns.var())
    assert ex06.check_clip_fraction(ex06._reference_clip_fraction)
    assert not ex06.check_clip_fraction(lambda ratio, clip_eps: ((ratio - 1) > clip_eps).double().mean())


def test_nb06_references_equal_the_library_functions():
    """The exercise references are retyped from the formulas; the trainer logs ppo_lite.diagnostics.explained_variance
    and ppo_lite.objectives.clip_fraction. On random inputs (good critics, critics worse than a constant, a constant
    return-free offset; ratios on both sides of the band, float32 and float64) the two agree, so the checker holds
    the learner to what the trainer computes."""
    from ppo_lite.diagnostics import explained_variance
    from ppo_lite.objectives import clip_fraction

    gen = torch.Generator().manual_seed(7)
    for trial in range(200):
        ev = ex06._ev_inputs(gen)
        lib, ref = explained_variance(ev["values"], ev["returns"]), ex06._reference_explained_variance(**ev)
        assert abs(float(lib) - float(ref)) < 1e-9 * max(1.0, abs(float(ref))), (trial, float(lib), float(ref))
        cf = ex06._clip_inputs(gen)
        for dtype in (torch.float64, torch.float32):
            ratio = cf["ratio"].to(dtype)
            n = ratio.numel()  # the same count of clipped samples (the library averages in float32)
            lib, ref = float(clip_fraction(ratio, cf["clip_eps"])), float(ex06._reference_clip_fraction(ratio, cf["clip_eps"]))
            assert round(lib * n) == round(ref * n) and abs(lib - ref) < 1e-6, (trial, dtype, lib, ref)
    # the inputs do reach both regimes: some critics are worse than a constant, some ratios are clipped
    gen = torch.Generator().manual_seed(7)
    evs = [float(ex06._reference_explained_variance(**ex06._ev_inputs(gen))) for _ in range(200)]
    assert min(evs) < 0 < max(evs) and max(evs) > 0.5
    assert ex06.check_explained_variance(lambda values, returns: explained_variance(values, returns))
    assert ex06.check_clip_fraction(lambda ratio, clip_eps: clip_fraction(ratio, clip_eps))

