"""DeepSea (``ppo_lite.envs.deep_sea``) against bsuite's rules written out independently, one env at a time in plain
Python (bsuite ``environments/deep_sea.py``, deterministic version: the +1 is paid for "right" taken in the last
column, every "right" costs 0.01 / N, the episode ends when the row reaches N)."""
from __future__ import annotations

import math

import pytest
import torch

from ppo_lite import PPOConfig
from ppo_lite.envs import make_env
from ppo_lite.envs.deep_sea import DeepSea, action_mapping, deep_sea_size
from ppo_lite.envs.exploration import CountBonus


def bsuite_episode(mapping, actions):
    """Rewards and final cell of one episode under bsuite's rules (a loop over Python ints)."""
    n = len(mapping)
    row = col = 0
    rewards = []
    for a in actions:
        right = a == mapping[row][col]
        reward = 0.0
        if col == n - 1 and right:
            reward += 1.0
        if right:
            col = min(col + 1, n - 1)
            reward -= 0.01 / n
        else:
            col = max(col - 1, 0)
        row += 1
        rewards.append(reward)
        if row == n:
            break
    return rewards, (row, col)


@pytest.mark.parametrize("size", [3, 6])
def test_trajectories_match_bsuite_rules(size):
    envs, episodes = 16, 5
    env = make_env(f"DeepSea{size}-v0", envs)
    mapping = action_mapping(size).tolist()
    g = torch.Generator().manual_seed(1)
    env.reset(seed=0)
    for _ in range(episodes):
        actions = torch.randint(0, 2, (size, envs), generator=g)
        rewards = []
        for t in range(size):
            row, col = env.state.long().unbind(1)
            obs_cell = env.cell_index(env._observe(env.state))
            assert (obs_cell == row * size + col).all()      # the one-hot names the cell
            obs, reward, terminated, truncated, info = env.step(actions[t])
            rewards.append(reward)
            assert bool(terminated.all()) == (t == size - 1) and not truncated.any()
        for k in range(envs):
            expected, _ = bsuite_episode(mapping, actions[:, k].tolist())
            got = [float(r[k]) for r in rewards]
            assert got == pytest.approx(expected, abs=1e-6)
            assert float(info["episode_return"][k]) == pytest.approx(sum(expected), abs=1e-5)
        assert (env.cell_index(info["final_obs"]) == size * size).all()  # all-zero observation after the last row
        assert (obs.argmax(1) == 0).all() and (obs.sum(1) == 1).all()    # and the next episode starts top-left


def test_returns_of_the_extreme_policies_and_the_random_one():
    size, envs = 5, 4096
    env = DeepSea(size, envs)
    env.reset(seed=0)
    g = torch.Generator().manual_seed(0)
    always_right, always_left, random = torch.zeros(envs), torch.zeros(envs), torch.zeros(envs)
    for t in range(size):
        row, col = env.state.long().unbind(1)
        right = env.right_action[row, col]
        choice = torch.randint(0, 2, (envs,), generator=g)
        a = torch.where(torch.arange(envs) % 3 == 0, right, torch.where(torch.arange(envs) % 3 == 1, 1 - right, choice))
        _, _, _, _, info = env.step(a)
    ret = info["episode_return"]
    assert ret[0::3].min().item() == pytest.approx(0.99, abs=1e-6)                 # optimal: right every step
    assert ret[1::3].abs().max().item() < 1e-7                                      # always left: 0
    found = (ret[2::3] > 0.5).float().mean().item()
    n = len(ret[2::3])
    assert abs(found - 2.0 ** -size) < 4 * math.sqrt(2.0 ** -size / n)              # random: 2^-N, within 4 sd


def test_mapping_is_balanced_fixed_and_seeded():
    m = action_mapping(20)
    assert m.shape == (20, 20) and set(m.unique().tolist()) == {0, 1}
    assert 0.4 < m.float().mean().item() < 0.6
    assert torch.equal(m, action_mapping(20)) and not torch.equal(m, action_mapping(20, mapping_seed=1))


def test_ids_configs_and_bad_input():
    assert deep_sea_size("DeepSea12-v0") == 12 and deep_sea_size("CartPole-v1") is None
    with pytest.raises(ValueError, match="2 to 64"):
        deep_sea_size("DeepSea1-v0")
    with pytest.raises(ValueError, match="torch env"):
        make_env("DeepSea4-v0", 2, backend="gymnasium")
    with pytest.raises(ValueError, match="size must be"):
        DeepSea(100, 2)
    cfg = PPOConfig.for_env("DeepSea8-v0").validate()
    assert cfg.num_envs == 8 and cfg.objective == "clip"


def test_count_bonus_counts_the_grid_cells():
    size = 4
    env = CountBonus(make_env(f"DeepSea{size}-v0", 2), beta=1.0, num_groups=2,
                     cells=(lambda o: DeepSea.cell_index(env.env, o), size * size + 1))
    env.reset(seed=0)
    r0 = env.env.right_action
    for t in range(size):
        row, col = env.env.state.long().unbind(1)
        _, reward, _, _, _ = env.step(torch.stack([r0[row[0], col[0]], r0[row[1], col[1]]]))  # both go right
    counts = env.group_counts()
    assert counts.shape == (2, size * size + 1) and counts.sum(1).tolist() == [size, size]  # one visit per step, per agent
    assert counts[:, size * size].tolist() == [1, 1]                                         # the terminal cell, once


# -- the study of notebook 09 (ppo_lite.experiments.deep_sea) ------------------------------------------------------
def test_column_potential_and_largest_solved():
    from ppo_lite.experiments import deep_sea as study

    env = DeepSea(5, 3)
    env.reset(seed=0)
    env.state = torch.tensor([[2.0, 1.0], [4.0, 4.0], [5.0, 3.0]])  # the last one is past the bottom row
    phi = study.column_potential(5)(env._observe(env.state))
    assert phi.tolist() == [1.0, 4.0, 0.0]
    rows = [{"variant": "ppo", "size": n, "solved": s, "seeds": 5} for n, s in ((4, 5), (6, 3), (8, 1), (10, 4))]
    assert study.largest_solved(rows, "ppo") == 6           # the first size below half stops the count
    assert study.largest_solved([dict(r, solved=0) for r in rows], "ppo") is None
    assert study.clopper_pearson(0, 5)[0] == 0.0 and study.clopper_pearson(5, 5)[1] == 1.0
    lo, hi = study.clopper_pearson(3, 5)
    assert lo < 0.6 < hi and hi - lo > 0.5                  # five seeds say little: the interval is wide


def test_deep_sea_study_end_to_end_resumes(tmp_path):
    import json

    from ppo_lite.experiments import deep_sea as study

    argv = ["--sizes", "3", "5", "--episodes", "120", "--seeds", "2", "--beta-grid", "0.03", "0.3", "--tuning-size", "3",
            "--outdir", str(tmp_path), "--no-progress"]
    assert study.main(argv + ["--max-cells", "3"]) == 0
    data = json.loads((tmp_path / "deep_sea.json").read_text())
    assert data["beta"] in (0.03, 0.3) and data["cells_done"] == 3 and not data["complete"]
    assert study.main(argv) == 0
    data = json.loads((tmp_path / "deep_sea.json").read_text())
    assert data["complete"] and data["cells_done"] == 8 and "git_commit" in data["meta"]
    assert {(r["variant"], r["size"]) for r in data["summary"]} == {(v, n) for v in study.VARIANTS for n in (3, 5)}
    assert all(r["beta"] == data["beta"] for r in data["summary"] if r["variant"] == "count_bonus")
    lines = (tmp_path / "deep_sea.cells.jsonl").read_text().splitlines()
    assert study.main(argv) == 0 and (tmp_path / "deep_sea.cells.jsonl").read_text().splitlines() == lines
    with pytest.raises(SystemExit, match="sizes"):
        study.main(["--sizes", "1", "--outdir", str(tmp_path)])
