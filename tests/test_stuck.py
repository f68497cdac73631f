"""python -m ppo_lite.experiments stuck (notebook 10 section 8): a tiny run writes a results file with its command and
commit, both arms, every seed scored; the committed file's figure draws; bad options are refused before any work."""
import json

import pytest

from ppo_lite.course.plots import debugging as plots
from ppo_lite.experiments import FIGURES, stuck


def test_a_tiny_run_scores_every_seed_of_both_arms(tmp_path):
    assert stuck.main(["--steps", "2048", "--seeds", "2", "--device", "cpu", "--outdir", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "stuck.json").read_text())
    assert data["meta"]["command"].startswith(stuck.COMMAND) and data["meta"].get("git_commit")
    assert set(data["arms"]) == set(stuck.ARMS) and data["configs"]["reward scaling off"]["scale_reward"] is False
    assert data["configs"]["defaults"]["scale_reward"] is True
    for runs in data["arms"].values():
        assert [r["seed"] for r in runs] == [0, 1] and all(isinstance(r["eval_return"], float) for r in runs)
        assert all(len(r["updates"]["explained_variance"]) == 1 for r in runs)


def test_the_committed_results_draw():
    data = json.loads((FIGURES / "stuck.json").read_text())
    assert len(data["seeds"]) >= 10 and data["steps"] >= 100_000
    fig = plots.plot_stuck(data)
    assert len(fig.axes) == 3 and fig.axes[0].get_xlabel() == "environment steps"


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--steps", "100"]])
def test_bad_options_are_refused(argv):
    with pytest.raises(SystemExit, match="--seeds must be >= 1"):
        stuck.main(argv)


def test_log_std_tiny_run_records_every_arm_with_the_entropy_it_reads(tmp_path):
    """python -m ppo_lite.experiments log_std (notebook 10 section 11) on the same skeleton: every arm's config is the
    one named (the large-update arm's lr, epochs and constant rate; the bonus; the narrow start), every seed is scored
    and the entropy is logged per update, reading back as sigma near the arm's start."""
    from ppo_lite.course.debugging import gaussian_sigma
    from ppo_lite.experiments import log_std

    assert log_std.main(["--steps", "4096", "--seeds", "2", "--device", "cpu", "--outdir", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "log_std.json").read_text())
    assert data["meta"]["command"].startswith(log_std.COMMAND) and set(data["arms"]) == set(log_std.ARMS)
    large = data["configs"]["large updates, ent_coef 0.01"]
    assert (large["lr"], large["update_epochs"], large["anneal_lr"], large["ent_coef"]) == (1e-2, 40, False, 0.01)
    assert data["configs"]["defaults"]["log_std_init"] == 0.0 and data["configs"]["log σ₀ = −2"]["log_std_init"] == -2.0
    for name, runs in data["arms"].items():
        start = 1.0 if "−2" not in name else 0.1353
        assert [r["seed"] for r in runs] == [0, 1] and all(len(r["updates"]["entropy"]) == 2 for r in runs)
        assert all(abs(gaussian_sigma(r["updates"]["entropy"][0]) / start - 1) < 0.2 for r in runs), name
    fig = plots.plot_log_std(data)
    assert len(fig.axes) == 3 and fig.axes[0].get_xlabel() == "environment steps"
