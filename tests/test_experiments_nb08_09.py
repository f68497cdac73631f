"""Tiny end-to-end runs of the experiments of notebooks 08-09 (writing to a tmp dir), and their exercise checkers."""
import json

import pytest
import torch

import ppo_lite.experiments as experiments
from ppo_lite.experiments import FIGURES, exploration, scaling, sensitivity
from ppo_lite.experiments.__main__ import main as run_and_draw  # python -m ppo_lite.experiments: runs, then draws
from ppo_lite.course.plots.experiment_figures import RESULT_FIGURES
from ppo_lite.course.exercises import nb08, nb09
from ppo_lite.envs.exploration import count_bonus, shaping_reward


@pytest.fixture
def figures(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "FIGURES", tmp_path)
    return tmp_path


def test_sensitivity_end_to_end_extends_a_grid_until_its_best_cell_is_inside(figures, monkeypatch):
    """A grid of two learning rates: the best is on an edge, so the sweep extends it from the reserve."""
    grid = {"algorithm": "ppo", "x": "lr", "xs": [1e-3, 3e-3], "x_reserve": ([3e-4], [1e-2]),
            "y": "clip_eps", "ys": [0.2], "y_reserve": ([], [])}
    monkeypatch.setattr(sensitivity, "GRIDS", {"tiny": grid})
    argv = ["--envs", "CartPole-v1", "--grids", "tiny", "--steps", "512", "--seeds", "2", "--episodes", "2",
            "--story-seeds", "0", "--no-progress", "--outdir", str(figures)]
    assert run_and_draw(["sensitivity", *argv]) == 0
    data = json.loads((figures / "sensitivity.json").read_text())
    assert (figures / "sensitivity.png").stat().st_size > 0
    assert data["meta"]["command"].startswith(sensitivity.COMMAND)
    g = data["results"]["CartPole-v1"]["tiny"]
    # two learning rates: the best is on an edge, so the grid grew by a reserve value on that side (or both)
    assert len(g["xs"]) >= 3 and set(g["xs"]) <= {3e-4, 1e-3, 3e-3, 1e-2}
    side = sensitivity.on_edge(g["xs"], g["best"][0])
    assert g["bracketed"]["x"] == (side is None)
    if side is not None:  # still on an edge: only because that side's reserve is spent
        assert (3e-4 if side == "low" else 1e-2) in g["xs"]
    assert all(len(v) == 2 for v in g["runs"].values()) and len(g["runs"]) == len(g["xs"])
    assert all(-0.1 < v < 1.1 for v in g["mean"])   # normalized CartPole scores: 0 random, 1 = 475
    rows = (figures / "sensitivity.cells.jsonl").read_text().splitlines()
    assert run_and_draw(["sensitivity", *argv]) == 0            # resumed: nothing retrained
    assert (figures / "sensitivity.cells.jsonl").read_text().splitlines() == rows


def _metrics(cell_means, noise, seeds=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return sensitivity.grid_metrics({(float(i), 0.0): (m + noise * torch.randn(seeds, generator=gen, dtype=torch.float64)).tolist()
                                     for i, m in enumerate(cell_means)})


def test_near_best_tells_a_flat_grid_from_a_peaked_one():
    flat = _metrics([0.9] * 12, noise=0.02)
    peaked = _metrics([1.0] + [0.2] * 11, noise=0.02)
    noisy = _metrics([0.9] * 12, noise=0.5)            # flat in truth, but 5 seeds cannot show it
    assert flat["near_best"]["near"] > 0.8 and sensitivity.grid_shape(flat["near_best"]) == "flat"
    assert peaked["near_best"]["near"] == 1 / 12 and peaked["near_best"]["far"] == 11 / 12
    assert sensitivity.grid_shape(peaked["near_best"]) == "peaked"
    # noise makes cells undecided, never "near": the old interval-overlap rule called this grid the flattest
    assert noisy["near_best"]["near"] < 0.25 and noisy["near_best"]["undecided"] > 0.7
    assert sensitivity.grid_shape(noisy["near_best"]) == "undecided"
    assert flat["near_best"]["selection_seeds"] == [0, 1] and flat["near_best"]["comparison_seeds"] == [2, 3, 4]
    # the expected best of k random settings: the mean cell at k = 1, rising to the best at k = n
    assert peaked["expected_max"][0] == pytest.approx(sum([1.0] + [0.2] * 11) / 12, abs=0.05)
    assert all(a <= b + 1e-12 for a, b in zip(peaked["expected_max"], peaked["expected_max"][1:]))
    assert peaked["expected_max"][-1] <= peaked["best_mean"] + 1e-12
    assert flat["expected_max"][-1] - flat["expected_max"][0] < peaked["expected_max"][-1] - peaked["expected_max"][0]


def test_near_best_labels_agree_with_scipys_one_sided_welch_tests():
    from scipy import stats as st
    gen = torch.Generator().manual_seed(3)
    scores = {(float(i), 0.0): (m + 0.1 * torch.randn(5, generator=gen, dtype=torch.float64)).tolist()
              for i, m in enumerate([1.0, 0.97, 0.9, 0.6, 0.95, 0.3])}
    out = sensitivity.near_best_by_tost(scores, [0, 1], [2, 3, 4])
    best = tuple(out["best"])
    assert best == max(scores, key=lambda c: sum(scores[c][:2]))
    b = scores[best][2:]
    for (x, y), v in scores.items():
        if (x, y) == best:
            continue
        a = v[2:]
        p_low = st.ttest_ind([u + 0.1 for u in a], b, equal_var=False, alternative="greater").pvalue   # H0: d <= -δ
        p_up = st.ttest_ind([u - 0.1 for u in a], b, equal_var=False, alternative="less").pvalue      # H0: d >= +δ
        p_far = st.ttest_ind([u + 0.1 for u in a], b, equal_var=False, alternative="less").pvalue     # H0: d >= -δ
        want = "near" if max(p_low, p_up) <= 0.05 else "far" if p_far <= 0.05 else "undecided"
        assert out["labels"][f"{x:g},{y:g}"] == want


def test_near_best_on_the_committed_grids_reproduces_the_reviews_figures():
    """Issue 29 point 4 recomputed, by TOST at 0.1 with the best chosen on the same seeds, the near-best shares
    PPO CartPole 0.60, PPO Pendulum 0.55, PG CartPole 0.04, PG Pendulum 0.20 from figures/sensitivity.json."""
    data = json.loads((FIGURES / "sensitivity.json").read_text())["results"]
    want = {("CartPole-v1", "ppo_lr_lambda"): 0.60, ("Pendulum-v1", "ppo_lr_lambda"): 0.55,
            ("CartPole-v1", "pg_lr_lambda"): 0.04, ("Pendulum-v1", "pg_lr_lambda"): 0.20}
    for (env, grid), share in want.items():
        scores = {tuple(float(v) for v in k.split(",")): runs for k, runs in data[env][grid]["runs"].items()}
        assert sensitivity.near_best_by_tost(scores)["near"] == pytest.approx(share, abs=0.005), (env, grid)
        assert data[env][grid]["near_best_same_seeds"]["near"] == pytest.approx(share, abs=0.005)


def test_extend_and_on_edge():
    g = sensitivity.GRIDS["ppo_lr_lambda"]
    xs, ys, grew = sensitivity.extend("ppo_lr_lambda", list(g["xs"]), list(g["ys"]), (g["xs"][-1], g["ys"][1]))
    assert grew and xs == sorted(g["xs"] + [g["x_reserve"][1][0]]) and ys == g["ys"]
    xs, ys, grew = sensitivity.extend("ppo_lr_lambda", list(g["xs"]), list(g["ys"]), (g["xs"][2], g["ys"][0]))
    assert grew and ys == sorted(g["ys"] + [g["y_reserve"][0][0]])
    assert sensitivity.extend("ppo_lr_lambda", list(g["xs"]), list(g["ys"]), (g["xs"][2], g["ys"][1]))[2] is False
    assert sensitivity.on_edge([1, 2, 3], 1) == "low" and sensitivity.on_edge([1, 2, 3], 2) is None


def _near(near, far):
    return {"near_best": {"near": near, "far": far, "undecided": 1 - near - far}, "expected_max": [0.5, 0.9], "best_mean": 0.9}


def test_sensitivity_verdict_rules():
    hard, easy, unclear = _near(0.1, 0.85), _near(0.8, 0.1), _near(0.3, 0.3)
    v = sensitivity.verdict
    assert v({"A": {"ppo_lr_lambda": hard, "pg_lr_lambda": hard}})["status"] == "holds"
    assert v({"A": {"ppo_lr_lambda": easy, "pg_lr_lambda": hard}})["status"] == "does not hold"
    assert v({"A": {"ppo_lr_lambda": hard}, "B": {"ppo_lr_lambda": easy}})["status"] == "holds with a qualification"
    assert v({"A": {"ppo_lr_lambda": unclear}, "B": {"ppo_lr_lambda": easy}})["status"] == "undecided"
    assert v({"A": {"ppo_lr_lambda": easy, "pg_lr_lambda": unclear}})["per_task"]["A"]["ppo_easier_than_pg"] is True
    assert v({"A": {"ppo_lr_lambda": unclear, "pg_lr_lambda": unclear}})["per_task"]["A"]["ppo_easier_than_pg"] is False
    # the story: generic defaults far worse than the tuned ones qualify a flat grid; shown not worse, they do not
    def story(generic):
        runs = lambda xs: {"runs": [{"diverged": False, "eval_return": x} for x in xs]}
        return {"sb3_defaults": runs([generic + d for d in (-20, -10, 0, 10, 20)]), "tuned": runs([-170, -160, -150, -165, -155])}
    rr = {"Pendulum-v1": -1226.57}
    assert v({"A": {"ppo_lr_lambda": easy}}, story(-1000), rr)["status"] == "holds with a qualification"
    assert v({"A": {"ppo_lr_lambda": easy}}, story(-160), rr)["status"] == "does not hold"
    assert v({"A": {"ppo_lr_lambda": easy}}, story(-255), rr)["status"] == "undecided"   # worse by about δ: neither shown


def test_sensitivity_refuses_bad_input():
    with pytest.raises(SystemExit, match="grid"):
        sensitivity.main(["--grids", "lr_everything"])
    with pytest.raises(ValueError, match="algorithm"):
        sensitivity.base_config("CartPole-v1", "a2c")


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


def test_scaling_end_to_end_resumes_from_its_cell_log(figures):
    argv = ["--device", "cpu", "--envs", "4", "8", "--step-envs", "1", "64", "--gym-envs", "2", "--seeds", "2",
            "--max-steps", "1024", "--max-seconds", "30", "--fixed-steps", "512", "--return-seeds", "2", "--episodes", "2",
            "--agents", "2", "--agent-steps", "256", "--minibatches", "2", "--quick", "--no-progress", "--outdir", str(figures)]
    assert run_and_draw(["scaling", *argv, "--max-cells", "3"]) == 0
    data = json.loads((figures / "scaling.json").read_text())
    assert not data["complete"] and "time_to_target/N=4/seed=1" in data["missing"] and "batched" not in data
    assert run_and_draw(["scaling", *argv]) == 0
    data = json.loads((figures / "scaling.json").read_text())
    assert data["complete"] and (figures / "scaling.png").stat().st_size > 0
    assert data["meta"]["command"].startswith(scaling.COMMAND) and "--max-cells" not in data["meta"]["command"]
    phases = data["profile"]["phases"][0]
    parts = sum(phases[p] for p in scaling.PHASES)
    assert parts == pytest.approx(phases["total"], rel=1e-6) and phases["update"] > 0 and phases["env_step"] > 0
    assert data["step_cost"]["ops_per_step"] > 10
    assert data["threads"]["reproducibility"]["max_abs_param_diff"][0] == 0.0
    # every time-to-target seed ran, none reached 475 in 1024 steps, each within its budget of env steps
    assert [len(runs) for runs in data["time_to_target"]["runs"]] == [2, 2]
    assert all(r["seconds"] is None and r["wall"] > 0 for runs in data["time_to_target"]["runs"] for r in runs)
    # the returns cells: every N the same env steps and seeds, deterministic evaluation returns in CartPole's range
    assert data["returns"]["envs"] == [4, 8] and all(len(runs) == 2 for runs in data["returns"]["runs"])
    assert all(9 <= r["eval_return"] <= 500 for runs in data["returns"]["runs"] for r in runs)
    # both sides of batched vs sequential were measured (not K x one agent)
    assert data["batched"]["agents"] == [2] and data["batched"]["sequential"][0] > 0 and data["batched"]["batched"][0] > 0
    assert all("load_before" in c for c in map(json.loads, (figures / "scaling.cells.jsonl").read_text().splitlines()))


def test_scaling_refuses_bad_input_before_any_work(figures):
    with pytest.raises(SystemExit, match="--minibatches 3"):
        scaling.main(["--envs", "4", "--minibatches", "3", "--outdir", str(figures)])
    with pytest.raises(SystemExit, match="--envs"):
        scaling.main(["--envs", "0", "--outdir", str(figures)])
    assert not (figures / "scaling.cells.jsonl").exists()


def test_scaled_config_grows_the_minibatch_with_n_and_keeps_the_gradient_steps():
    small, wide = scaling.scaled_config(4, 0, 10_000, 2), scaling.scaled_config(256, 0, 10_000, 2)
    assert (small.minibatch_size, wide.minibatch_size) == (64, 4096)
    assert small.update_epochs * small.num_minibatches == wide.update_epochs * wide.num_minibatches == 40


def test_every_experiment_has_a_result_figure(capsys):
    # verdicts only reads the results and prints a table: it writes no results file, so it has no figure
    assert set(RESULT_FIGURES) == set(experiments.available()) - {"verdicts"}
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
