"""Tiny end-to-end runs of the experiments of notebooks 08-09 (writing to a tmp dir), and their exercise checkers."""
import json

import pytest
import torch

import ppo_lite.experiments as experiments
from ppo_lite.experiments import exploration, scaling, sensitivity
from ppo_lite.experiments.__main__ import main as run_and_draw  # python -m ppo_lite.experiments: runs, then draws
from ppo_lite.plots.experiment_figures import RESULT_FIGURES
from ppo_lite.exercises import nb08, nb09
from ppo_lite.exploration import count_bonus, shaping_reward


@pytest.fixture
def figures(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "FIGURES", tmp_path)
    return tmp_path


def test_sensitivity_end_to_end(figures, monkeypatch):
    monkeypatch.setattr(sensitivity, "GRIDS", {
        "lr_clip": ("lr", [1e-3, 1e-2], "clip_eps", [0.2]),  # batched: one run for the whole grid
        "epochs_minibatches": ("update_epochs", [1], "num_minibatches", [1, 2]),  # one batched run per cell
    })
    assert run_and_draw(["sensitivity", "--steps", "512", "--seeds", "2", "--device", "cpu"]) == 0
    data = json.loads((figures / "sensitivity.json").read_text())
    assert (figures / "sensitivity.png").stat().st_size > 0
    assert data["meta"]["command"].startswith(sensitivity.COMMAND)
    grid = data["grids"]["lr_clip"]
    assert len(grid["final"]) == 2 and len(grid["final"][0]) == 1 and len(grid["final"][0][0]) == 2
    assert all(8.0 <= r <= 500.0 for row in grid["final"] for cell in row for r in cell)  # CartPole returns
    assert 0.0 < data["grids"]["epochs_minibatches"]["good_fraction"] <= 1.0


def test_good_fraction():
    assert sensitivity.good_fraction([500, 460, 440, 100], random_return=20) == 0.5  # 500 - 0.1 * 480 = 452
    assert sensitivity.good_fraction([-150, -160, -400], random_return=-1200) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="tol"):
        sensitivity.good_fraction([1.0], 0.0, tol=2.0)


def test_exploration_end_to_end(figures):
    assert run_and_draw(["exploration", "--steps", "2048", "--seeds", "2", "--device", "cpu"]) == 0
    data = json.loads((figures / "exploration.json").read_text())
    assert (figures / "exploration.png").stat().st_size > 0
    assert set(data["variants"]) == set(exploration.VARIANTS)
    for runs in data["variants"].values():
        assert len(runs) == 2
        for run in runs:
            assert run["final_return"] == -200.0 and run["goal_fraction"] == 0.0  # true return: each env's one 200-step episode misses the flag
            assert len(run["env_steps"]) == len(run["return"]) == 8
    with pytest.raises(ValueError, match="variant"):
        exploration.wrapper("rnd", 0.99, 1)


def test_scaling_end_to_end(figures):
    argv = ["--device", "cpu", "--envs", "4", "--step-envs", "1", "64", "--gym-envs", "2", "--seeds", "1",
            "--max-steps", "512", "--max-seconds", "5", "--agents", "2", "--quick"]
    assert run_and_draw(["scaling", *argv]) == 0
    data = json.loads((figures / "scaling.json").read_text())
    assert (figures / "scaling.png").stat().st_size > 0
    phases = data["profile"]["phases"][0]
    parts = sum(phases[p] for p in scaling.PHASES)
    assert parts == pytest.approx(phases["total"], rel=1e-6) and phases["update"] > 0 and phases["env_step"] > 0
    assert data["step_cost"]["ops_per_step"] > 10
    assert data["threads"]["reproducibility"]["max_abs_param_diff"][0] == 0.0
    assert len(data["batched"]["batched"]) == 1 and data["batched"]["sequential"][0] == pytest.approx(2 * data["batched"]["one_agent"])


def test_every_experiment_has_a_result_figure(capsys):
    assert set(RESULT_FIGURES) == set(experiments.available())
    assert run_and_draw(["--help"]) == 0 and ", ".join(experiments.available()) in capsys.readouterr().out


def test_fit_line_and_amdahl():
    a, b = scaling.fit_line([1, 2, 3], [3, 5, 7])
    assert a == pytest.approx(1) and b == pytest.approx(2)
    t = scaling.amdahl_time(torch.tensor([1.0, 3.0]), torch.tensor([True, False]), 10.0)
    assert float(t) == pytest.approx(3.1)


def test_nb08_checkers():
    assert nb08.check_fit_line(lambda envs, seconds: scaling.fit_line(envs.tolist(), seconds.tolist()))
    through_origin = lambda envs, seconds: (0.0, float((envs * seconds).sum() / (envs * envs).sum()))  # noqa: E731
    assert not nb08.check_fit_line(through_origin)
    assert nb08.check_amdahl_time(scaling.amdahl_time)
    everything_faster = lambda phase_seconds, accelerated, speedup: phase_seconds.sum() / speedup  # noqa: E731
    assert not nb08.check_amdahl_time(everything_faster)


def test_nb09_checkers():
    assert nb09.check_shaping_reward(shaping_reward) and nb09.check_count_bonus(count_bonus)
    no_terminal_mask = lambda phi, phi_next, terminated, gamma: gamma * phi_next - phi  # noqa: E731
    assert not nb09.check_shaping_reward(no_terminal_mask)
    no_discount = lambda phi, phi_next, terminated, gamma: torch.where(terminated, 0.0, phi_next) - phi  # noqa: E731
    assert not nb09.check_shaping_reward(no_discount)
    one_over_n = lambda counts, beta: beta / counts.double()  # noqa: E731
    assert not nb09.check_count_bonus(one_over_n)
