"""``python -m ppo_lite.experiments corners`` (issue 29 parts 2 and 3): the design, the search, resuming, rebuilding.

No real training but one tiny cell: the study's cells are replaced by made-up runs (``corners.synthetic_runs``)."""
import json
import math

import pytest

import ppo_lite.experiments as experiments
from ppo_lite.config import SOLVED_THRESHOLDS
from ppo_lite.course.plots.experiment_figures import draw_result_figure
from ppo_lite.evaluation import random_policy_returns
from ppo_lite.experiments import CellLog, ablation, corners
from ppo_lite.experiments.corners import Setting
from ppo_lite.paths import figures_dir


def test_the_eighteen_corners_and_the_low_budget():
    cs = corners.corners()
    at_100k = [(t, o, s) for t, o, s in cs if corners.TASK_BY_LABEL[t].steps == 100_000]
    assert len(at_100k) == len(set(at_100k)) == 18
    assert {corners.TASK_BY_LABEL[t].env_id for t, _, _ in at_100k} == set(ablation.TASKS)
    assert {(o, s) for _, o, s in at_100k} == {(o, s) for o in ablation.OBJECTIVES for s in (ablation.ALL_ON, ablation.ALL_OFF)}
    low = [(t, o, s) for t, o, s in cs if t == "CartPole-v1@40k"]
    assert len(low) == 6 and 30_000 <= corners.TASK_BY_LABEL["CartPole-v1@40k"].steps <= 50_000
    # the most decisive first: Pendulum and Acrobot before CartPole
    assert [t for t, _, _ in cs][:12] == ["Pendulum-v1"] * 6 + ["Acrobot-v1"] * 6


def test_all_off_is_the_ablations_and_all_on_the_tuned_defaults():
    for task in corners.TASK_BY_LABEL.values():
        for o in corners.OBJECTIVES:
            off = corners.base_config(task.label, o, ablation.ALL_OFF)
            assert off == ablation.config_for(task.env_id, o, ablation.ALL_OFF, total_steps=task.steps)
            assert not any(ablation.detail_is_on(off, d) for d in ablation.DETAILS)
            on = corners.base_config(task.label, o, ablation.ALL_ON)
            assert [d for d in ablation.DETAILS if ablation.detail_is_on(on, d)] == ablation.details_on(task.env_id)


def test_grids_are_log_grids_of_at_least_five_points_inside_their_ladders():
    assert len(corners.LR_START) >= 5 and set(corners.LR_START) <= set(corners.LR_LADDER)
    ratios = [b / a for a, b in zip(corners.LR_LADDER, corners.LR_LADDER[1:])]
    assert all(3.0 < r < 3.4 for r in ratios)  # half-decades
    assert min(corners.LR_LADDER) < min(corners.LR_START) and max(corners.LR_LADDER) > max(corners.LR_START)
    for task in corners.TASK_BY_LABEL:
        for o in corners.OBJECTIVES:
            d = corners.default_setting(task, o, ablation.ALL_ON)
            assert d.lr in corners.LR_START and d.update_epochs in corners.EPOCH_LADDER and d.kl_target in corners.KL_LADDER
            assert len(corners.start_values(corners.EPOCH_LADDER, d.update_epochs)) == 3


def _seeds_in(x, out):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "seed" and isinstance(v, int):
                out.add(v)
            elif "seeds" in k and isinstance(v, list):
                out.update(s for s in v if isinstance(s, int))
            else:
                _seeds_in(v, out)
    elif isinstance(x, list):
        for v in x:
            _seeds_in(v, out)


def test_seeds_are_fresh_and_disjoint():
    mine = [set(corners.TUNING_SEEDS), set(corners.REESTIMATE_SEEDS), set(corners.FINAL_SEEDS)]
    assert len(mine[0]) >= 5 and len(mine[1]) >= 5 and len(mine[2]) >= 30
    assert not (mine[0] & mine[1]) and not (mine[0] & mine[2]) and not (mine[1] & mine[2])
    ours = set().union(*mine)
    # every seed an earlier run used: the cell logs (and the results files that have none), and the constants
    used: set[int] = set()
    figures = figures_dir()
    logs = {p.name.replace(".cells.jsonl", "") for p in figures.glob("*.cells.jsonl")}
    for path in figures.glob("*.cells.jsonl"):
        if path.name.startswith("corners."):
            continue
        for line in path.read_text().splitlines():
            if line.strip():
                _seeds_in(json.loads(line), used)
    for path in figures.glob("*.json"):
        if path.stem not in logs and path.stem != "corners":
            _seeds_in(json.loads(path.read_text()), used)
    for name in experiments.available():
        if name == "corners":
            continue
        module = __import__(f"ppo_lite.experiments.{name}", fromlist=["_"])
        for const in ("SEEDS", "TUNING_SEEDS", "FINAL_SEEDS"):
            used.update(getattr(module, const, ()))
    used.update(range(max(t["seeds"] for t in __import__("ppo_lite.experiments.benchmark", fromlist=["_"]).TASKS.values())))
    assert used, "found no earlier seeds: the scan is broken"
    assert not (ours & used), sorted(ours & used)
    assert max(ours) < corners.EVAL_SEED  # and far from the evaluation envs' seed


def test_declared_margins_and_random_returns():
    for env_id, value in corners.RANDOM_RETURNS.items():
        measured = sum(random_policy_returns(env_id, 100)) / 100
        assert measured == pytest.approx(value, abs=0.01)
    for task in corners.TASKS:
        rng = SOLVED_THRESHOLDS[task.env_id] - corners.RANDOM_RETURNS[task.env_id]
        assert corners.MARGINS[task.label] == pytest.approx(0.1 * rng, abs=0.01) and corners.MARGINS[task.label] > 0
    names = [e["name"] for e in corners.DECLARATION["primary_endpoints"]]
    assert names == ["success counts", "trimmed mean", "interaction"]


def test_extend_line():
    ladder = (1, 2, 3, 4, 5, 6, 7)
    assert corners.extend_line(ladder, [3, 4, 5], 4) == (None, None)
    assert corners.extend_line(ladder, [3, 4, 5], 5) == ("high", 6)
    assert corners.extend_line(ladder, [3, 4, 5], 3) == ("low", 2)
    assert corners.extend_line(ladder, [1, 2, 3], 1) == ("low", None)  # the hard bound
    assert corners.extend_line(ladder, [5, 6, 7], 7) == ("high", None)


def _getter(peak):
    calls = []

    def get(spec):
        calls.append(spec.key)
        return corners.cell_record(spec, corners.synthetic_runs(spec, peak=peak))
    return get, calls


@pytest.mark.parametrize("peak_lr, values, best, hits, bound", [
    (1e-3, corners.LR_START, 1e-3, 0, None),  # interior: nothing added
    (0.0316, corners.LR_START + (0.0316, 0.1), 0.0316, 2, None),  # extended twice, then interior
    (0.1, corners.LR_START + (0.0316, 0.1), 0.1, 3, "high"),  # ran into the hard bound (its third edge win)
    (1e-5, (1e-5, 3.16e-5) + corners.LR_START, 1e-5, 3, "low"),
])
def test_search_extends_past_a_winning_edge(peak_lr, values, best, hits, bound):
    task, o, s = "Pendulum-v1", "kl_dual", ablation.ALL_OFF
    d = corners.default_setting(task, o, s)
    get, calls = _getter(Setting(peak_lr, 40, 0.1))
    t = corners.tune_corner(task, o, s, get)
    lr_line, ep_line, kl_line = t["lines"]
    assert lr_line["values"] == sorted(values) and lr_line["best"] == best
    assert len(lr_line["edge_hits"]) == hits and lr_line["bound_hit"] == bound
    # epochs at the chosen lr: 5, 10, 20 then 40 (the peak), interior once 80 is added
    assert ep_line["values"] == [5, 10, 20, 40, 80] and ep_line["best"] == 40 and len(ep_line["edge_hits"]) == 2
    # kl_target at the chosen lr and epochs: up to 0.1, then 0.316 (the ladder's end) makes it interior
    assert kl_line["best"] == 0.1 and kl_line["bound_hit"] is None and max(kl_line["values"]) == 0.316
    assert t["chosen"] == {"lr": best, "update_epochs": 40, "kl_target": 0.1}
    assert d.update_epochs == 10
    # per-seed scores of every grid cell are kept, and each cell was computed once per line pass
    assert all(len(v["scores"]) == len(corners.TUNING_SEEDS) for v in lr_line["summaries"].values())
    assert t["cells"] == len(set(calls))


def test_regret_and_reestimate_cells():
    task, o, s = "Acrobot-v1", "clip", ablation.ALL_ON
    get, _ = _getter(None)
    t = corners.tune_corner(task, o, s, get)
    specs = corners.reestimate_cells(task, o, s, t)
    assert sum(len(sp.seeds) for sp in specs) == corners.REESTIMATE_TOP * len(corners.REESTIMATE_SEEDS)
    assert all(set(sp.seeds) == set(corners.REESTIMATE_SEEDS) for sp in specs)
    r = corners.regret(task, o, t, [get(sp) for sp in specs])
    assert r["chosen_is_best"] and r["regret"] == 0  # the synthetic optimum is the default, which the search finds
    # a re-estimate in which the runner-up does better gives a positive regret
    cells = []
    for sp in specs:
        cell = get(sp)
        for run in cell["runs"]:
            if run["lr"] != t["chosen"]["lr"] or sp.update_epochs != t["chosen"]["update_epochs"]:
                run["eval_return"] += 50.0
        cells.append(cell)
    assert corners.regret(task, o, t, cells)["regret"] > 0


@pytest.fixture
def fake_training(monkeypatch):
    calls = []

    def train(spec):
        calls.append(spec.key)
        return corners.synthetic_runs(spec, noise=5.0)

    monkeypatch.setattr(corners, "train_cell", train)
    monkeypatch.setattr(experiments, "git_commit", lambda: "test")
    return calls


def _data(path):
    d = json.loads(path.read_text())
    d.pop("meta")
    return d


def test_resume_computes_only_the_missing_cells_and_max_cells_0_rebuilds_identically(tmp_path, fake_training):
    args = ["--outdir", str(tmp_path), "--tasks", "Pendulum-v1", "--objectives", "clip", "kl_dual", "--no-progress"]
    assert corners.main(args + ["--max-cells", "4"]) == 0
    first = list(fake_training)
    assert len(first) == 4
    log = CellLog(tmp_path / "corners.cells.jsonl")
    assert set(log.cells()) == set(first)
    # the first cells are Pendulum clip all off's learning-rate line
    assert all(k.startswith("Pendulum-v1 | clip | all off | tune | lr=") for k in first)
    partial = _data(tmp_path / "corners.json")
    assert partial["cells_done"] == 4 and not partial["complete"]
    draw_result_figure("corners", tmp_path / "corners.json")  # the figure draws from a partial file

    assert corners.main(args) == 0
    second = fake_training[len(first):]
    assert not set(first) & set(second) and len(second) == len(set(second))
    assert set(log.cells()) == set(first) | set(second)
    built = _data(tmp_path / "corners.json")
    assert built["cells_done"] == len(first) + len(second)
    # every corner asked for has its tuning, 30 final seeds and a regret; the others are untouched
    asked = [c for k, c in built["corners"].items() if k.startswith("Pendulum-v1 | clip") or k.startswith("Pendulum-v1 | kl_dual")]
    assert len(asked) == 4
    for c in asked:
        assert c["tuning"] is not None and c["regret"] is not None
        runs = [r for cell in c["final_cells"] for r in cell["runs"]]
        assert sorted(r["seed"] for r in runs) == list(corners.FINAL_SEEDS)
        assert all("curve" in r and "success" in r for r in runs)
    assert sum(c["tuning"] is not None for c in built["corners"].values()) == 4

    n = len(fake_training)
    assert corners.main(["--outdir", str(tmp_path), "--max-cells", "0", "--no-progress"]) == 0
    assert len(fake_training) == n  # nothing trained
    assert _data(tmp_path / "corners.json") == built  # the rebuild is the same file (its meta aside)
    assert corners.main(["--outdir", str(tmp_path), "--max-cells", "0", "--no-progress"]) == 0
    assert _data(tmp_path / "corners.json") == built
    png = draw_result_figure("corners", tmp_path / "corners.json")
    assert png.exists() and png.stat().st_size > 0
    progress = built["progress"]
    assert progress["corners_tuned"] == 4 and progress["corners_final_complete"] == 4
    row = next(r for r in progress["corners"] if r["corner"] == "Pendulum-v1 | clip | all on")
    assert row["final"]["seeds"] == 30 and 0 <= row["final"]["successes"] <= 30


def test_plan_is_a_lower_bound_in_the_declared_order(tmp_path):
    done, todo = corners.plan(CellLog(tmp_path / "none.jsonl"), list(corners.TASK_BY_LABEL), list(corners.OBJECTIVES))
    assert not done
    per_corner = len(corners.LR_START) + 2 + math.ceil(len(corners.FINAL_SEEDS) / corners.FINAL_BATCH)
    assert len(todo) >= 24 * per_corner + 8 * 2
    keys = [s.key for s in todo]
    # a corner's stage 2 follows its own stage 1, before the next corner's tuning
    first_final = next(i for i, k in enumerate(keys) if "| final |" in k)
    assert all(k.startswith("Pendulum-v1 | clip | all off") for k in keys[:first_final + 3])
    assert corners.estimate_seconds(todo, corners.seconds_per_unit(CellLog(tmp_path / "none.jsonl"))) > 0


def test_one_tiny_real_cell(monkeypatch):
    import torch

    torch.set_num_threads(1)
    tiny = corners.Task("CartPole-v1@1k", "CartPole-v1", 1024)
    monkeypatch.setitem(corners.TASK_BY_LABEL, tiny.label, tiny)
    monkeypatch.setitem(corners.SUCCESS_SCORE, tiny.label, 475.0)
    spec = corners.CellSpec(tiny.label, "kl_dual", ablation.ALL_OFF, "final", (8000, 8001), (1e-3, 1e-3), 2, 0.01)
    cell = corners.cell_record(spec, corners.train_cell(spec))
    assert [r["seed"] for r in cell["runs"]] == [8000, 8001]
    assert all(isinstance(r["success"], bool) and len(r["eval_returns"]) == corners.EVAL_EPISODES for r in cell["runs"])
    assert spec.protocol()["config"]["update_epochs"] == 2 and spec.protocol()["config"]["norm_adv"] is False


# -- the declared readings --------------------------------------------------------------------------------------
def _corner_file(arms: dict) -> dict:
    """A ``corners`` map (the results file's) from {(task, objective, setting): [eval return per final seed]}."""
    out = {}
    for (task, o, s), values in arms.items():
        env_id = corners.TASK_BY_LABEL[task].env_id
        runs = [{"seed": seed, "diverged": False, "eval_return": float(v), "success": v >= corners.SUCCESS_SCORE[task]}
                for seed, v in zip(corners.FINAL_SEEDS, values)]
        out[f"{task} | {o} | {s}"] = {"task": task, "env_id": env_id, "objective": o, "setting": s,
                                      "final_cells": [{"runs": runs[i:i + 10]} for i in range(0, len(runs), 10)]}
    return out


def _spread(center, width, n=30):
    return [center + width * math.sin(1.7 * k + 0.3) for k in range(n)]


def test_readings_are_the_declared_tests_recomputed_with_scipy():
    from scipy import stats as st
    on, off = ablation.ALL_ON, ablation.ALL_OFF
    arms = {("Pendulum-v1", "clip", off): _spread(-250, 60) [:-3] + [-1300, -1250, -1200],   # three catastrophic seeds
            ("Pendulum-v1", "kl_dual", off): _spread(-1100, 80),
            ("Pendulum-v1", "clip", on): _spread(-165, 20), ("Pendulum-v1", "kl_dual", on): _spread(-160, 30),
            ("Acrobot-v1", "clip", off): _spread(-85, 5), ("Acrobot-v1", "kl_dual", off): _spread(-88, 5),
            ("Acrobot-v1", "clip", on): _spread(-86, 5), ("Acrobot-v1", "kl_dual", on): _spread(-100, 40),
            ("CartPole-v1", "clip", off): [500.0] * 29 + [150.0], ("CartPole-v1", "kl_dual", off): [500.0] * 30,
            ("CartPole-v1", "clip", on): [500.0] * 27 + [200.0] * 3, ("CartPole-v1", "kl_dual", on): [500.0] * 30}
    r = corners.readings(_corner_file(arms))
    assert set(r) == {"Pendulum-v1", "Acrobot-v1", "CartPole-v1"}
    assert r["CartPole-v1"]["at_ceiling"] and not r["Pendulum-v1"]["at_ceiling"]   # every trimmed mean 500: no spread
    assert "p_holm" not in r["CartPole-v1"]["success"]                             # ... and out of the Holm family
    raw = {}
    for task in ("Pendulum-v1", "Acrobot-v1"):
        a = {k[1:]: v for k, v in arms.items() if k[0] == task}
        # Yuen's trimmed test, scipy's own: same difference and raw p as the boost before Holm
        res = st.ttest_ind(a["clip", on], a["clip", off], equal_var=False, trim=0.2)
        boost = r[task]["boost"]
        assert boost.estimate == pytest.approx(st.trim_mean(a["clip", on], 0.2) - st.trim_mean(a["clip", off], 0.2))
        raw[task] = res.pvalue
        lo, hi = res.confidence_interval(0.95)
        assert boost.interval() == pytest.approx((lo, hi), rel=1e-9)
        inter = r[task]["interaction"]
        tm = {k: st.trim_mean(v, 0.2) for k, v in a.items()}
        assert inter.estimate == pytest.approx((tm["clip", off] - tm["kl_dual", off]) - (tm["clip", on] - tm["kl_dual", on]))
        k_on, k_off = (sum(v >= corners.SUCCESS_SCORE[task] for v in a["clip", s]) for s in (on, off))
        assert r[task]["success"]["p"] == pytest.approx(st.fisher_exact([[k_on, 30 - k_on], [k_off, 30 - k_off]]).pvalue)
    # Holm over the two informative tasks: the smaller p doubled, the larger kept (if not below the first)
    small, large = sorted(raw.values())
    adjusted = sorted(r[t]["boost"].p_difference for t in raw)
    assert adjusted == pytest.approx([min(1.0, 2 * small), max(min(1.0, 2 * small), large)])
    # what the tests say here: on Pendulum the objective matters without the details (interaction > 0, decided)
    assert r["Pendulum-v1"]["interaction"].differs and r["Pendulum-v1"]["interaction"].estimate > 500
    assert r["Acrobot-v1"]["boost"].equivalent                                      # the details change nothing there


def test_a_per_agent_cell_reruns_one_seed_alone(monkeypatch, tmp_path):
    """Issue 29 point 8: a cell computed with per-agent streams retrains only the asked seed, and the record of
    that seed (trained beside two others) reproduces bit for bit; the study's own cells keep the shared stream."""
    import torch

    torch.set_num_threads(1)
    tiny = corners.Task("CartPole-v1@1k", "CartPole-v1", 1024)
    monkeypatch.setitem(corners.TASK_BY_LABEL, tiny.label, tiny)
    monkeypatch.setitem(corners.SUCCESS_SCORE, tiny.label, 475.0)
    spec = corners.CellSpec(tiny.label, "clip", ablation.ALL_ON, "final", (8000, 8001, 8002), (1e-3, 3e-3, 1e-3), 2, 0.01,
                            streams="per_agent")
    assert corners.tune_spec(tiny.label, "clip", ablation.ALL_ON, corners.Setting(1e-3, 2, 0.01)).streams == "shared"
    log = CellLog(tmp_path / "corners.cells.jsonl")
    log.append(spec.key, spec.protocol(), corners.cell_record(spec, corners.train_cell(spec)))
    cell = log.cells()[spec.key]
    assert corners.spec_of(cell) == spec
    out = corners.rerun_cell(cell, seed=8001)
    assert out["batch"] == [8001] and [r["seed"] for r in out["runs"]] == [8001]
    assert out["identical"], out


def test_a_logged_cell_reruns_and_compares_with_its_record(monkeypatch, tmp_path, capsys):
    """Issue 29 point 8, the command half: --rerun KEY retrains one logged cell (its whole batch: the batch's stream
    comes from its seed list) and says, run by run, whether it reproduces its record."""
    import torch

    torch.set_num_threads(1)
    tiny = corners.Task("CartPole-v1@1k", "CartPole-v1", 1024)
    monkeypatch.setitem(corners.TASK_BY_LABEL, tiny.label, tiny)
    monkeypatch.setitem(corners.SUCCESS_SCORE, tiny.label, 475.0)
    spec = corners.CellSpec(tiny.label, "clip", ablation.ALL_ON, "final", (8000, 8001), (1e-3, 1e-3), 2, 0.01)
    log = CellLog(tmp_path / "corners.cells.jsonl")
    log.append(spec.key, spec.protocol(), corners.cell_record(spec, corners.train_cell(spec)))
    cell = log.cells()[spec.key]
    out = corners.rerun_cell(cell, seed=8001)                         # trained for real: the record reproduces
    assert out["identical"] and [r["seed"] for r in out["runs"]] == [8001] and out["batch"] == [8000, 8001]
    recorded = {"runs": [{k: v for k, v in r.items() if k != "success"} for r in cell["runs"]], "seconds": 0.0}
    monkeypatch.setattr(corners, "train_cell", lambda spec: recorded)  # the rest checks the comparison, not training
    assert corners.main(["--rerun", spec.key, "--outdir", str(tmp_path), "--no-progress"]) == 0
    assert "seed 8000" in capsys.readouterr().out
    tampered = {**cell, "runs": [{**cell["runs"][0], "eval_return": cell["runs"][0]["eval_return"] + 1.0}, cell["runs"][1]]}
    assert not corners.rerun_cell(tampered)["identical"]                 # a record that is not what the code gives
    with pytest.raises(ValueError, match="seed 7 is not in cell"):
        corners.rerun_cell(cell, seed=7)
    with pytest.raises(ValueError, match="another protocol"):
        corners.rerun_cell({**cell, "protocol": {**cell["protocol"], "episodes": 3}})
    with pytest.raises(SystemExit, match="no cell"):
        corners.main(["--rerun", "nothing like it", "--outdir", str(tmp_path), "--no-progress"])
