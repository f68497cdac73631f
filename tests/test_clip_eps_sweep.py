"""The clip-range sweep of notebook 05 (``ppo_lite.experiments.clip_eps``): the band split by the sign of the
advantage, paired first rollouts across settings, and a sweep that resumes from its cell log."""
from __future__ import annotations

import json

import pytest
import torch

from ppo_lite.experiments import clip_eps


def test_band_excursion_splits_by_the_side_the_clip_stops():
    # eps = 0.2; advantages uncentred: A > 0 for the first three samples, A < 0 for the last three
    r = torch.tensor([1.5, 0.5, 1.1, 1.5, 0.5, 0.9])
    a = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    m = clip_eps.band_excursion(r, a, 0.2, center=False)
    assert float(m["max_dev"]) == pytest.approx(0.5)
    assert float(m["frac_outside"]) == pytest.approx(4 / 6)
    # clipped side: A > 0 above the band (1.5), A < 0 below it (0.5); free side: A > 0 below (0.5), A < 0 above (1.5)
    assert float(m["frac_clipped_side"]) == pytest.approx(2 / 6)
    assert float(m["frac_free_side"]) == pytest.approx(2 / 6)
    # centring flips the sign of a sample whose advantage is below the batch mean
    m = clip_eps.band_excursion(torch.tensor([1.5, 1.5]), torch.tensor([3.0, 1.0]), 0.2, center=True)
    assert float(m["frac_clipped_side"]) == pytest.approx(0.5) and float(m["frac_free_side"]) == pytest.approx(0.5)
    # per agent: leading axes are kept
    assert clip_eps.band_excursion(r.repeat(3, 1), a.repeat(3, 1), 0.2)["frac_outside"].shape == (3,)


def test_settings_share_each_seeds_first_rollout_and_differ_after():
    cells = {label: clip_eps.run_cell("CartPole-v1", label, (0, 1), 1024, episodes=1) for label in ("0.05", "none")}
    runs = [r for c in cells.values() for r in c["runs"]]
    assert clip_eps.paired(runs) == {"CartPole-v1": True}
    by = {(r["label"], r["seed"]): r for r in runs}
    assert by[("0.05", 0)]["first_rollout"] != by[("0.05", 1)]["first_rollout"]  # seeds differ from each other
    # same start, different objective: the first update's KL differs
    assert by[("0.05", 0)]["updates"]["approx_kl"][0] != by[("none", 0)]["updates"]["approx_kl"][0]
    # a tampered checksum is caught
    by[("none", 1)]["first_rollout"] += 1
    assert clip_eps.paired(runs) == {"CartPole-v1": False}


def test_sweep_writes_each_cell_and_resumes(tmp_path, capsys):
    argv = ["--envs", "CartPole-v1", "--labels", "0.2", "anneal", "--seeds", "2", "--steps", "1024",
            "--episodes", "1", "--outdir", str(tmp_path), "--no-progress"]
    assert clip_eps.main(argv + ["--max-cells", "1"]) == 0
    data = json.loads((tmp_path / "clip_eps.json").read_text())
    assert data["cells_done"] == 1 and not data["complete"] and "git_commit" in data["meta"]
    assert "--max-cells" not in data["meta"]["command"] and "--no-progress" not in data["meta"]["command"]
    assert clip_eps.main(argv) == 0
    data = json.loads((tmp_path / "clip_eps.json").read_text())
    assert data["complete"] and data["paired"] == {"CartPole-v1": True} and len(data["runs"]) == 4
    anneal = [r for r in data["runs"] if r["label"] == "anneal"][0]["updates"]["clip_eps"]
    assert anneal == pytest.approx([0.2, 0.15, 0.1, 0.05])  # 4 updates of 256 steps
    lines = (tmp_path / "clip_eps.cells.jsonl").read_text().splitlines()
    assert clip_eps.main(argv) == 0  # nothing left to compute: the log does not grow
    assert (tmp_path / "clip_eps.cells.jsonl").read_text().splitlines() == lines
    row = data["summary"][0]
    assert row["mean_frac_clipped_side"] + row["mean_frac_free_side"] <= row["mean_frac_outside"] + 1e-9


def test_sweep_refuses_bad_input_before_training(tmp_path):
    with pytest.raises(SystemExit, match="unknown setting"):
        clip_eps.main(["--labels", "wide", "--outdir", str(tmp_path)])
    with pytest.raises(SystemExit, match="--seeds"):
        clip_eps.main(["--seeds", "1", "--outdir", str(tmp_path)])
    with pytest.raises(SystemExit, match="error"):
        clip_eps.main(["--envs", "NoSuchEnv-v0", "--outdir", str(tmp_path)])
    assert not any(tmp_path.iterdir())


def test_band_excursion_counts_what_the_trainer_logs_as_clip_fraction():
    """frac_outside is the trainer's clip fraction (ppo_lite.objectives.clip_fraction, its own formula) batch by batch,
    and the two sides split it exactly, on random (K, B) ratios that fall on both sides of the band."""
    from ppo_lite.objectives import clip_fraction

    gen = torch.Generator().manual_seed(3)
    for eps in (0.1, 0.2, 0.3):
        r = torch.exp(0.3 * torch.randn(6, 257, generator=gen))
        a = torch.randn(6, 257, generator=gen)
        m = clip_eps.band_excursion(r, a, eps)
        lib = clip_fraction(r, eps, dim=-1)
        assert torch.equal(torch.round(m["frac_outside"] * 257), torch.round(lib * 257))
        assert 0 < float(lib.min()) and float(lib.max()) < 1
        assert torch.allclose(m["frac_clipped_side"] + m["frac_free_side"], m["frac_outside"])
