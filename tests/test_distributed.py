"""Data-parallel PPO (ppo_lite.distributed) on CPU: two gloo ranks on loopback, started by torchrun.

One two-rank job (the ``two_ranks`` fixture) checks, on its ranks, the first update against one process with the
whole batch, an exact resume and CartPole learning; the other jobs check that failures end the whole job.
This file is also the ranks' program: ``python -m torch.distributed.run ... tests/test_distributed.py MODE OUT``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ppo_lite import PPOConfig
from ppo_lite.comm import LocalComm
from ppo_lite.distributed import validate_distributed
from ppo_lite.optim import FlatAdam
from ppo_lite.policies import ActorCritic
from ppo_lite.trainer import update

REPO = Path(__file__).resolve().parents[1]
HALF = 64  # transitions per rank in the equivalence batch
EQUIV_CFG = dict(num_minibatches=1, update_epochs=4, device="cpu")
SMALL = dict(num_envs=2, num_steps=16, update_epochs=2, num_minibatches=2, device="cpu")
TOLERANCE = 1e-5


# -- the equivalence batch, built the same way in the test and on the ranks --------------------------------
def _agent_and_optimizer() -> tuple[ActorCritic, FlatAdam]:
    torch.manual_seed(0)
    agent = ActorCritic(4, 2, True, (64, 64), "tanh", True, 0.0)
    return agent, FlatAdam(agent, lr=1e-3, eps=1e-5)  # as Trainer


def _whole_batch(agent: ActorCritic) -> dict[str, torch.Tensor]:
    """2*HALF transitions; the second half's advantages have another mean and a 10x larger scale."""
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(2 * HALF, 4, generator=g)
    actions = torch.randint(0, 2, (2 * HALF,), generator=g)
    with torch.no_grad():
        logp, _ = agent.log_prob_entropy(obs, actions)
    adv = torch.randn(2 * HALF, generator=g)
    adv[HALF:] = 3.0 + 10.0 * adv[HALF:]
    values = torch.randn(2 * HALF, generator=g)
    return {"obs": obs, "actions": actions, "logp": logp + 0.05 * torch.randn(2 * HALF, generator=g),
            "values": values, "advantages": adv, "returns": values + adv}


def _flat_params(agent: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in agent.parameters()])


def _first_update(rank: int, comm) -> torch.Tensor:
    agent, opt = _agent_and_optimizer()
    batch = _whole_batch(agent)
    if comm.world_size > 1:
        batch = {k: v[rank * HALF:(rank + 1) * HALF] for k, v in batch.items()}
    cfg = PPOConfig.for_env("CartPole-v1", **EQUIV_CFG)
    update(agent, opt, batch, cfg, torch.Generator().manual_seed(rank), comm=comm)
    return _flat_params(agent)


# -- launching jobs ----------------------------------------------------------------------------------------
def _torchrun(args: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run a two-rank job on loopback (``--standalone``: a free port); kill the whole job if it outlives ``timeout``."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--monitor-interval=0.2", *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the job outlived {timeout} s (a rank hangs):\n{out[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, ""), time.perf_counter() - t0


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two_ranks")
    result, _ = _torchrun([str(Path(__file__)), "worker", str(out)], timeout=400)
    assert result.returncode == 0, result.stdout[-4000:]
    return out


def _rank_file(out: Path, name: str, rank: int):
    return torch.load(out / f"{name}.{rank}.pt", weights_only=True)


# -- tests -------------------------------------------------------------------------------------------------
def test_two_ranks_take_the_same_first_update_as_one_process_with_both_halves(two_ranks):
    single = _first_update(0, LocalComm())
    for rank in (0, 1):
        pooled = _rank_file(two_ranks, "equivalence", rank)
        assert torch.allclose(pooled["pooled"], single, atol=TOLERANCE, rtol=0), (pooled["pooled"] - single).abs().max()
        # Normalizing each half's advantages with its own mean/std would move the parameters elsewhere:
        assert (pooled["unpooled"] - single).abs().max() > 100 * TOLERANCE
    assert torch.equal(_rank_file(two_ranks, "equivalence", 0)["pooled"], _rank_file(two_ranks, "equivalence", 1)["pooled"])


def test_two_ranks_solve_cartpole_within_the_single_process_budget_and_stay_identical(two_ranks):
    stats = json.loads((two_ranks / "learning.0.json").read_text())
    assert stats["world_size"] == 2
    assert stats["solved_at"] is not None and stats["solved_at"] <= 150_000, stats
    assert stats["mean_return_last_20"] >= 475, stats
    assert stats["env_steps"] <= 150_000
    # The ranks step different envs (seed + 1_000_003 * rank) but end with the same weights and history.
    rank0, rank1 = _rank_file(two_ranks, "learning", 0), _rank_file(two_ranks, "learning", 1)
    assert torch.equal(rank0["params"], rank1["params"])
    assert json.loads((two_ranks / "learning.1.json").read_text()) == stats
    assert not torch.equal(rank0["env_state"], rank1["env_state"])


def test_resume_continues_the_uninterrupted_two_rank_run(two_ranks):
    for rank in (0, 1):
        runs = _rank_file(two_ranks, "resume", rank)
        assert runs["resumed"] == runs["full"]


def test_nan_on_one_rank_stops_every_rank_at_the_same_update(two_ranks):
    for rank in (0, 1):
        assert (two_ranks / f"nan.{rank}.txt").read_text().startswith("update 3: the environment returned non-finite rewards")


def test_checkpoint_from_another_world_size_is_refused(two_ranks):
    ckpt = two_ranks / "resume.pt"
    cfg = PPOConfig.for_env("CartPole-v1", total_steps=4 * 32 * 6, **SMALL)
    validate_distributed(cfg, 2, resume_from=ckpt)  # the world size it was made with
    for world_size in (1, 4):
        with pytest.raises(ValueError, match=f"world_size=2 ranks, but this job has world_size={world_size}"):
            validate_distributed(cfg.replace(total_steps=10_000), world_size, resume_from=ckpt)


@pytest.mark.parametrize("changes,world_size,backend,match", [
    (dict(num_envs=3, num_steps=5, num_minibatches=4), 2, "gloo", r"each of the 2 ranks collects num_envs\*num_steps = 3\*5 = 15"),
    (dict(total_steps=1000), 4, "gloo", r"total_steps=1000 is smaller than one rollout of all 4 ranks .* = 4\*8\*32 = 1024"),
    (dict(), 2, "nccl", r"backend='nccl' cannot run on device='cpu'"),
    (dict(), 0, "gloo", r"world_size=0"),
])
def test_bad_distributed_input_is_refused_naming_the_values(changes, world_size, backend, match):
    cfg = PPOConfig.for_env("CartPole-v1", device="cpu", **changes)
    with pytest.raises(ValueError, match=match):
        validate_distributed(cfg, world_size, backend)


def test_cli_refuses_bad_input_on_every_rank_before_training():
    result, _ = _torchrun(["-m", "ppo_lite", "train", "--device", "cpu", "--num-envs", "8", "--steps", "300", "--no-progress"], timeout=120)
    assert result.returncode != 0
    for rank in (0, 1):
        assert f"error: rank {rank} of 2: total_steps=300 is smaller than one rollout of all 2 ranks" in result.stdout, result.stdout[-3000:]
    assert "env steps in" not in result.stdout  # no training ran


@pytest.mark.parametrize("mode,expected", [
    ("raise", "RuntimeError: injected failure on rank 1"),
    ("hang", "imed out"),  # rank 1 stops answering; rank 0's collective times out (PPO_LITE_DIST_TIMEOUT_S=10)
])
def test_a_failing_rank_ends_the_whole_cli_job_promptly(mode, expected):
    result, _ = _torchrun([str(Path(__file__)), mode], timeout=180, env={"PPO_LITE_DIST_TIMEOUT_S": "10"})
    ended = time.time()
    assert result.returncode != 0, result.stdout[-3000:]
    assert expected in result.stdout, result.stdout[-3000:]
    assert "env steps in" not in result.stdout
    # Measured from the failure, not from the start: starting two ranks takes long on a loaded machine.
    failed_at = float(result.stdout.split("failing at ")[1].split()[0])
    assert ended - failed_at < 40, f"the job ended {ended - failed_at:.0f} s after rank 1 failed"


# -- the ranks' program ------------------------------------------------------------------------------------
def _worker(out: Path) -> None:
    """Every check that needs the two ranks, in one job (starting a job costs seconds on a loaded machine)."""
    from ppo_lite import distributed, trainer as trainer_module

    torch.set_num_threads(1)
    comm = distributed.init_from_env("cpu", timeout_s=60)
    rank = comm.rank

    # 1. The first update on half the batch each, pooled and (as a control) with each rank's own statistics.
    unpooled = distributed.DistComm()
    unpooled.all_reduce_sum = lambda t: t
    torch.save({"pooled": _first_update(rank, comm), "unpooled": _first_update(rank, unpooled)}, out / f"equivalence.{rank}.pt")

    # 2. Resume: 3 updates, checkpoint, then the rest, against 6 uninterrupted updates.
    small = PPOConfig.for_env("CartPole-v1", total_steps=4 * 32 * 6, norm_obs=True, scale_reward=True, **SMALL)
    full = distributed.train(small, comm, progress=False).without_timing()
    distributed.train(small, comm, save_path=out / "resume.pt", stop_after=3, progress=False)
    resumed = distributed.train(small, comm, resume_from=out / "resume.pt", progress=False).without_timing()
    torch.save({"full": full, "resumed": resumed}, out / f"resume.{rank}.pt")

    # 3. NaN rewards on rank 1 only, in its third rollout: every rank must stop at that update.
    collect = trainer_module.collect_rollout
    calls = {"n": 0}

    def nan_on_rank_1(*args, **kwargs):
        rollout, obs = collect(*args, **kwargs)
        calls["n"] += 1
        if rank == 1 and calls["n"] == 3:
            rollout.rewards[0, 0] = float("nan")
        return rollout, obs

    trainer_module.collect_rollout = nan_on_rank_1
    try:
        distributed.train(small.replace(norm_obs=False, scale_reward=False), comm, progress=False)
        message = "no error"
    except FloatingPointError as exc:
        message = str(exc)
    finally:
        trainer_module.collect_rollout = collect
    (out / f"nan.{rank}.txt").write_text(message)

    # 4. Learning: 4 envs per rank (8 in all, the single-process default), stop once solved.
    cfg = PPOConfig.for_env("CartPole-v1", num_envs=4, device="cpu", seed=0)
    trainer = distributed.DistTrainer(cfg, comm=comm)
    history = trainer.run(progress=False, callback=lambda update_index, h: h.steps_to_threshold(475) is not None)
    torch.save({"params": _flat_params(trainer.agent), "env_state": trainer.env.state_dict()["state"]}, out / f"learning.{rank}.pt")
    (out / f"learning.{rank}.json").write_text(json.dumps({
        "world_size": comm.world_size, "solved_at": history.steps_to_threshold(475), "env_steps": history["env_steps"][-1],
        "mean_return_last_20": history.mean_return(20), "history": history.without_timing(),
    }))
    distributed.destroy()


def _failing_cli(mode: str) -> int:
    """The real command line, with rank 1 failing in its third rollout: raising, or hanging without exiting."""
    from ppo_lite import trainer as trainer_module
    from ppo_lite.__main__ import main

    collect = trainer_module.collect_rollout
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if os.environ["RANK"] == "1" and calls["n"] == 3:
            print(f"rank 1 failing at {time.time():.3f}", flush=True)
            if mode == "raise":
                raise RuntimeError("injected failure on rank 1")
            time.sleep(600)
        return collect(*args, **kwargs)

    trainer_module.collect_rollout = failing
    return main(["train", "--device", "cpu", "--num-envs", "2", "--num-steps", "16", "--update-epochs", "1",
                 "--steps", "1000000", "--no-progress"])


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        _worker(Path(sys.argv[2]))
    else:
        sys.exit(_failing_cli(sys.argv[1]))
