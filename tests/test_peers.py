"""PPO beside SB3's A2C and sb3-contrib's TRPO (issue 29 point 5): the analysis (``ppo_lite.experiments.peers``) on
synthetic results files, recomputed with scipy's Welch test; the runner ``bench/peers.py`` refusing bad input and
rebuilding its JSON from a cell log without SB3; and, only where SB3 is installed, one tiny trained cell."""
from __future__ import annotations

import ast
import importlib.util
import json
import math
from pathlib import Path

import pytest
from scipy import stats as sps

from ppo_lite.experiments import peers, verdicts
from ppo_lite.experiments.sweep import EVAL_SEED

ROOT = Path(__file__).resolve().parents[1]


def _bench_peers():
    """``bench/peers.py`` as a module (importing it imports no SB3)."""
    spec = importlib.util.spec_from_file_location("bench_peers", ROOT / "bench" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(ppo: dict[str, list[float]], peer_rows: list[tuple[str, str, list[float]]], complete: bool = True):
    benchmark = {"episodes": 10, "complete": True, "cells_done": 2, "cells_expected": 2,
                 "summary": [{"env_id": e, "variant": "ppo", "budget": 100_000, "per_seed": s} for e, s in ppo.items()]
                 + [{"env_id": e, "variant": "pg", "budget": 100_000, "per_seed": [0.0, 1.0]} for e in ppo]}
    peers_data = {"episodes": 10, "complete": complete, "cells_done": 4, "cells_expected": 40,
                  "meta": {"command": "python bench/peers.py"},
                  "summary": [{"env_id": e, "algo": a, "budget": 100_000, "per_seed": s} for e, a, s in peer_rows]}
    return peers_data, benchmark


def _margins(tasks):
    return {e: verdicts.margin(e, verdicts.SOTA_MARGIN_FRACTION) for e in tasks}


def test_margins_are_five_percent_of_the_range_from_random_to_solved():
    for e in ("CartPole-v1", "Pendulum-v1"):
        span = verdicts.SOLVED_SCORES[e] - verdicts.RANDOM_RETURNS[e]
        assert _margins([e])[e] == pytest.approx(0.05 * span, rel=1e-12)
    assert _margins(["CartPole-v1"])["CartPole-v1"] == pytest.approx(0.05 * (475.0 - 21.71))
    p, b = _files({"CartPole-v1": [400.0, 410.0, 420.0]}, [("CartPole-v1", "a2c", [300.0, 320.0, 310.0])])
    out = peers.compare_with_peers(p, b, _margins(["CartPole-v1"]), verdicts.decide)
    assert out["comparisons"][0]["margin"] == pytest.approx(0.05 * (475.0 - 21.71))


def test_numbers_are_welchs_as_scipy_computes_them():
    ppo = [-150.0, -210.0, -175.0, -140.0, -190.0]
    a2c = [-300.0, -180.0, -520.0, -260.0, -410.0, -330.0, -200.0]
    trpo = [-160.0, -230.0, -200.0, -150.0, -400.0, -170.0]
    p, b = _files({"Pendulum-v1": ppo}, [("Pendulum-v1", "a2c", a2c), ("Pendulum-v1", "trpo", trpo)])
    delta = _margins(["Pendulum-v1"])["Pendulum-v1"]
    out = peers.compare_with_peers(p, b, {"Pendulum-v1": delta}, verdicts.decide, alpha=0.05)
    assert [(r["env_id"], r["peer"]) for r in out["comparisons"]] == [("Pendulum-v1", "a2c"), ("Pendulum-v1", "trpo")]
    for r, other in zip(out["comparisons"], (a2c, trpo)):
        welch = sps.ttest_ind(ppo, other, equal_var=False)
        assert r["diff"] == pytest.approx(sum(ppo) / len(ppo) - sum(other) / len(other), rel=1e-12)
        assert r["p_difference"] == pytest.approx(welch.pvalue, rel=1e-9)
        assert r["df"] == pytest.approx(welch.df, rel=1e-9)
        assert r["ci"] == pytest.approx(list(welch.confidence_interval(0.95)), rel=1e-9)
        # non-inferiority at δ: H0 d <= -δ, one-sided Welch on PPO shifted by δ; and the other side, H0 d >= +δ
        assert r["p_lower"] == pytest.approx(sps.ttest_ind([x + delta for x in ppo], other, equal_var=False,
                                                           alternative="greater").pvalue, rel=1e-9)
        assert r["p_upper"] == pytest.approx(sps.ttest_ind([x - delta for x in ppo], other, equal_var=False,
                                                           alternative="less").pvalue, rel=1e-9)
        assert r["tost_interval"] == pytest.approx(list(welch.confidence_interval(0.90)), rel=1e-9)
        assert (r["ppo_seeds"], r["peer_seeds"]) == (len(ppo), len(other)) and r["same_budget"]
    # the labels are verdicts.decide's at α = 0.05 on these numbers: PPO shown better than A2C; TRPO undecided-or-not
    assert out["labels"]["a2c"]["Pendulum-v1"] == out["comparisons"][0]["labels"]
    assert out["comparisons"][0]["p_difference"] < 0.05 and out["labels"]["a2c"]["Pendulum-v1"]["an effect"] == "holds"


def test_holm_adjusts_each_peers_tasks_together():
    p, b = _files({"CartPole-v1": [480.0, 490.0, 500.0, 470.0], "Pendulum-v1": [-150.0, -170.0, -160.0, -180.0]},
                  [("CartPole-v1", "a2c", [380.0, 450.0, 300.0, 420.0]), ("Pendulum-v1", "a2c", [-400.0, -250.0, -300.0, -600.0]),
                   ("CartPole-v1", "trpo", [500.0, 460.0, 490.0])])
    out = peers.compare_with_peers(p, b, _margins(["CartPole-v1", "Pendulum-v1"]), verdicts.decide)
    a2c = [r for r in out["comparisons"] if r["peer"] == "a2c"]
    raw = sorted(r["p_difference"] for r in a2c)
    holm = [min(1.0, 2 * raw[0]), min(1.0, max(2 * raw[0], raw[1]))]  # Holm's step-down for two tests
    assert sorted(r["holm"]["difference"] for r in a2c) == pytest.approx(holm, rel=1e-12)
    for name in ("lower", "upper"):
        ps = sorted(r[f"p_{name}"] for r in a2c)
        assert sorted(r["holm"][name] for r in a2c) == pytest.approx([min(1.0, 2 * ps[0]), min(1.0, max(2 * ps[0], ps[1]))])
    trpo = [r for r in out["comparisons"] if r["peer"] == "trpo"]  # a family of one: nothing to adjust
    assert trpo[0]["holm"]["difference"] == pytest.approx(trpo[0]["p_difference"]) and set(out["labels_holm"]) == {"a2c", "trpo"}


def _label(ppo, peer, claim, env="CartPole-v1"):
    p, b = _files({env: ppo}, [(env, "a2c", peer)])
    return peers.compare_with_peers(p, b, _margins([env]), verdicts.decide)["comparisons"][0]["labels"][claim]


def test_every_label_is_reachable_and_flips_with_the_data():
    # δ on CartPole is 22.66 return units
    better = ([480.0, 482.0, 484.0, 486.0, 488.0], [200.0, 205.0, 210.0, 215.0, 220.0])
    same = ([300.0, 301.0, 302.0, 303.0, 304.0], [300.5, 301.5, 302.5, 303.5, 302.0])
    slightly = ([310.0, 310.5, 311.0, 311.5, 312.0], [300.0, 300.5, 301.0, 301.5, 302.0])  # +10 < δ, shown
    worse = ([100.0, 102.0, 104.0, 106.0, 108.0], [400.0, 402.0, 404.0, 406.0, 408.0])
    noisy = ([100.0, 480.0, 250.0, 30.0, 400.0], [120.0, 470.0, 300.0, 20.0, 350.0])
    assert _label(*better, "an effect") == verdicts.HOLDS
    assert _label(*slightly, "an effect") == verdicts.QUALIFIED  # significant, and shown below δ
    assert _label(*same, "an effect") == verdicts.NOT_HOLD  # shown below +δ, no significant gain
    assert _label(*worse, "an effect") == verdicts.NOT_HOLD
    assert _label(*noisy, "an effect") == verdicts.UNDECIDED
    assert _label(*better, "not worse") == verdicts.HOLDS
    assert _label(*same, "not worse") == verdicts.HOLDS
    assert _label(*worse, "not worse") == verdicts.NOT_HOLD
    assert _label(*noisy, "not worse") == verdicts.UNDECIDED
    # the same data the other way round flips the verdicts
    assert _label(better[1], better[0], "not worse") == verdicts.NOT_HOLD
    assert _label(worse[1], worse[0], "an effect") == verdicts.HOLDS
    # a PPO at 500 on every seed (no spread, as the benchmark's CartPole) against a perfect peer: exact, not worse
    assert _label([500.0] * 5, [500.0] * 10, "not worse") == verdicts.HOLDS
    assert _label([500.0] * 5, [500.0] * 10, "an effect") == verdicts.NOT_HOLD


def test_what_cannot_be_compared_is_skipped_and_a_partial_file_says_so():
    p, b = _files({"CartPole-v1": [480.0, 490.0, 500.0]},
                  [("CartPole-v1", "a2c", [300.0]), ("Pendulum-v1", "a2c", [-300.0, -200.0]),
                   ("CartPole-v1", "trpo", [480.0, 490.0])], complete=False)
    out = peers.compare_with_peers(p, b, _margins(["CartPole-v1", "Pendulum-v1"]), verdicts.decide)
    why = {(s["env_id"], s["peer"]): s["why"] for s in out["skipped"]}
    assert why == {("CartPole-v1", "a2c"): "fewer than two seeds on one side",
                   ("Pendulum-v1", "a2c"): "the benchmark has no PPO row for the task"}
    assert [(r["env_id"], r["peer"]) for r in out["comparisons"]] == [("CartPole-v1", "trpo")]
    assert not out["complete"] and out["note"].startswith("partial: 4 of 40 peer cells")
    no_margin = peers.compare_with_peers(p, b, {}, verdicts.decide)
    assert {s["why"] for s in no_margin["skipped"]} >= {"no margin declared for the task"}
    p["summary"][0]["budget"] = 50_000
    p["summary"][0]["per_seed"] = [300.0, 310.0]
    assert "different budgets from PPO's on CartPole-v1/a2c" in \
        peers.compare_with_peers(p, b, _margins(["CartPole-v1"]), verdicts.decide)["note"]
    with pytest.raises(ValueError, match="summary"):
        peers.compare_with_peers({"meta": {}}, b, {}, verdicts.decide)
    with pytest.raises(ValueError, match="alpha"):
        peers.compare_with_peers(p, b, {}, verdicts.decide, alpha=0.6)
    assert peers.tasks_of(p) == ["CartPole-v1", "Pendulum-v1"]


def test_describe_writes_each_comparison_with_its_labels():
    p, b = _files({"Pendulum-v1": [-150.0, -170.0, -160.0]}, [("Pendulum-v1", "trpo", [-400.0, -250.0, -300.0])])
    out = peers.compare_with_peers(p, b, _margins(["Pendulum-v1"]), verdicts.decide)
    (line,) = peers.describe(out)
    r = out["comparisons"][0]
    assert line.startswith(f"Pendulum-v1: PPO − TRPO +{r['diff']:.1f} [") and "3 vs 3 seeds" in line
    assert f"not worse: {r['labels']['not worse']}; an effect: {r['labels']['an effect']}" in line
    assert "−" in line.split("[")[1]  # the interval's negative end with a typographic minus


def test_load_reads_the_two_files(tmp_path):
    assert peers.load(tmp_path) == (None, None)
    p, b = _files({"CartPole-v1": [1.0, 2.0]}, [])
    (tmp_path / "peers.json").write_text(json.dumps(p))
    (tmp_path / "benchmark.json").write_text("{half a file")
    assert peers.load(tmp_path) == (p, None)


def test_the_analysis_imports_no_sb3_and_not_the_verdicts():
    tree = ast.parse((ROOT / "ppo_lite" / "experiments" / "peers.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not {m for m in imported if m.split(".")[0] in ("stable_baselines3", "sb3_contrib")}
    assert "verdicts" not in imported and not any(m.endswith(".verdicts") for m in imported)


# -- the runner, bench/peers.py --------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--algos", "ppo"], "unknown algorithm 'ppo'"),
    (["--tasks", "Hopper-v5"], "unknown task 'Hopper-v5'"),
    (["--seeds", "-1"], "--seeds must be distinct ints"),
    (["--seeds", "3", "3"], "--seeds must be distinct ints"),
    (["--seeds", str(EVAL_SEED)], "--seeds must be distinct ints"),
    (["--steps", "0"], "--steps must be a positive"),
    (["--max-cells", "-2"], "--max-cells must be >= 0"),
])
def test_the_runner_refuses_bad_input_before_any_work(tmp_path, argv, message):
    runner = _bench_peers()
    with pytest.raises(SystemExit) as exc:
        runner.main([*argv, "--outdir", str(tmp_path), "--no-progress"])
    assert message in str(exc.value)
    assert not list(tmp_path.iterdir())  # nothing written, nothing trained


def test_the_runner_holds_the_zoos_entries_and_the_benchmarks_budgets():
    runner = _bench_peers()
    from ppo_lite.experiments import benchmark

    assert set(runner.ZOO) == {(a, e) for a in runner.ALGOS for e in runner.TASKS}
    assert runner.TASKS == {e: benchmark.TASKS[e]["total_steps"] for e in ("CartPole-v1", "Pendulum-v1")}
    assert runner.SEEDS == tuple(range(10)) and len(runner.ZOO_SOURCE["commit"]) == 40
    for (algo, env_id), z in runner.ZOO.items():
        assert z["file"] == f"hyperparams/{algo}.yml" and z["n_timesteps"] >= 100_000 and z["n_envs"] >= 1
    # seed-major order: every (algorithm, task) at a seed before the next seed
    order = runner.jobs(list(runner.ALGOS), list(runner.TASKS), [0, 1])
    assert [s for _, _, s in order] == [0] * 4 + [1] * 4 and len(set(order)) == 8


def _synthetic_cell(runner, algo, env_id, seed, eval_return):
    protocol = runner.cell_protocol(algo, env_id, seed, runner.TASKS[env_id])
    run = {"algo": algo, "env_id": env_id, "seed": seed, "diverged": False, "eval_return": eval_return,
           "eval_returns": [eval_return] * 10, "final_train": eval_return - 1.0, "train_episodes": 50,
           "env_steps": runner.TASKS[env_id], "steps_to_threshold": None, "curve_steps": [], "curve": [],
           "train_seconds": 1.0}
    return {"key": runner.cell_key(algo, env_id, seed), "protocol": protocol, "git_commit": "abc", "date": "2026-01-01 00:00",
            "machine": "test", "runs": [run], "seconds": 2.0,
            "versions": {"stable_baselines3": "2.9.2", "sb3_contrib": "2.9.2"}}


def test_max_cells_0_rebuilds_the_json_from_the_log_without_sb3(tmp_path):
    runner = _bench_peers()
    cells = [_synthetic_cell(runner, "a2c", "CartPole-v1", s, v) for s, v in ((0, 450.0), (1, 480.0), (2, 300.0))]
    stale = _synthetic_cell(runner, "trpo", "CartPole-v1", 0, 10.0)
    stale["protocol"]["total_steps"] = 5_000  # another protocol: not a cell of this study
    (tmp_path / "peers.cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in [*cells, stale]))
    assert runner.main(["--max-cells", "0", "--outdir", str(tmp_path), "--no-progress"]) == 0
    data = json.loads((tmp_path / "peers.json").read_text())
    # --max-cells and --no-progress do not change the results: the command recorded completes the file
    assert data["meta"]["command"] == f"python bench/peers.py --outdir {tmp_path}"
    assert (data["cells_done"], data["cells_expected"], data["complete"]) == (3, 40, False)
    assert "trpo/CartPole-v1/0" in data["missing"]
    (row,) = data["summary"]
    assert (row["algo"], row["env_id"], row["seed_list"], row["per_seed"]) == ("a2c", "CartPole-v1", [0, 1, 2], [450.0, 480.0, 300.0])
    mean, lo, hi = row["eval_return"], *row["ci"]
    half = sps.t.ppf(0.975, 2) * sps.tstd([450.0, 480.0, 300.0]) / math.sqrt(3)
    assert mean == pytest.approx(410.0) and (lo, hi) == pytest.approx((410.0 - half, 410.0 + half))
    assert row["final_train"] == pytest.approx(409.0) and row["seconds_per_run"] == 2.0
    assert row["zoo_n_timesteps"] == 500_000 and row["budget"] == 100_000
    # the analysis reads the rebuilt file as it is
    bench = {"episodes": 10, "complete": True, "summary": [{"env_id": "CartPole-v1", "variant": "ppo", "budget": 100_000,
                                                            "per_seed": [500.0] * 5}]}
    out = peers.compare_with_peers(data, bench, _margins(["CartPole-v1"]), verdicts.decide)
    assert [(r["env_id"], r["peer"]) for r in out["comparisons"]] == [("CartPole-v1", "a2c")]
    assert out["note"].startswith("partial: 3 of 40 peer cells")


# -- with SB3 installed only ------------------------------------------------------------------------------------
def test_one_tiny_cell_trains_scores_and_resumes(tmp_path):
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("sb3_contrib")
    runner = _bench_peers()
    lr = runner.model_kwargs(runner.ZOO[("a2c", "Pendulum-v1")]["hyperparams"])["learning_rate"]
    assert (lr(1.0), lr(0.5), lr(0.0)) == pytest.approx((7e-4, 3.5e-4, 0.0))  # the zoo's lin_7e-4
    argv = ["--algos", "a2c", "--tasks", "CartPole-v1", "Pendulum-v1", "--seeds", "0", "--steps", "2000",
            "--outdir", str(tmp_path), "--no-progress"]
    assert runner.main(argv) == 0
    log = (tmp_path / "peers.cells.jsonl").read_text().splitlines()
    assert len(log) == 2
    for line in log:
        cell = json.loads(line)
        (run,) = cell["runs"]
        assert len(run["eval_returns"]) == 10 and run["env_steps"] >= 2000 and run["final_train"] is not None
        low, high = (0.0, 500.0) if run["env_id"] == "CartPole-v1" else (-2000.0, 0.0)  # each task's return range
        assert all(low <= r <= high for r in run["eval_returns"])
        assert cell["versions"]["stable_baselines3"] and cell["versions"]["sb3_contrib"]
    assert runner.main(argv) == 0  # resumed: nothing computed again
    assert len((tmp_path / "peers.cells.jsonl").read_text().splitlines()) == 2
