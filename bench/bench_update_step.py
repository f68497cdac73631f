"""Cost of one PPO gradient step, piece by piece: torch.optim.Adam against ppo_lite.optim.FlatAdam.

    python bench/bench_update_step.py                   # CartPole defaults: 64-64 actor and critic, 256 samples
    python bench/bench_update_step.py --batch 4096 --device cuda

Times, in one process with ``torch.set_num_threads(1)``, the optimizer bookkeeping of a gradient step (zero the
gradients, clip their global norm to 0.5, Adam step) for ``torch.optim.Adam`` (fused and foreach) with
``torch.nn.utils.clip_grad_norm_`` and for :class:`~ppo_lite.optim.FlatAdam`, then the whole gradient step of
``ppo_lite.trainer.update`` (forward, loss, backward, clip, Adam). Sides alternate within each repeat and the median
of ``--repeats`` is reported (µs per step). Writes ``bench/results/update_step_<device>.md``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, publish  # noqa: E402

from ppo_lite import PPOConfig  # noqa: E402
from ppo_lite.optim import FlatAdam  # noqa: E402
from ppo_lite.policies import ActorCritic  # noqa: E402
from ppo_lite.trainer import update  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, steps: int, device: torch.device) -> float:
    """µs per call of ``fn`` over ``steps`` calls (after a short warm-up)."""
    for _ in range(5):
        fn()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return 1e6 * (time.perf_counter() - t0) / steps


def _with_grads(agent: ActorCritic) -> None:
    for p in agent.parameters():
        p.grad = torch.randn_like(p) * 1e-2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    torch.manual_seed(0)

    sides = {}
    for name, kwargs in (("torch.optim.Adam(fused=True) + clip_grad_norm_", {"fused": True}),
                         ("torch.optim.Adam(foreach=True) + clip_grad_norm_", {"foreach": True})):
        agent = ActorCritic(4, 2, True).to(device)
        _with_grads(agent)
        opt = torch.optim.Adam(agent.parameters(), lr=1e-6, eps=1e-5, **kwargs)

        def torch_step(agent=agent, opt=opt):
            grads = [p.grad for p in agent.parameters()]
            opt.zero_grad(set_to_none=True)
            for p, g in zip(agent.parameters(), grads):  # stands in for backward, which would set them
                p.grad = g
            torch.nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            opt.step()
        sides[name] = torch_step
    flat_agent = ActorCritic(4, 2, True).to(device)
    flat = FlatAdam(flat_agent, lr=1e-6, eps=1e-5)
    flat.grad.copy_(torch.randn_like(flat.grad) * 1e-2)
    saved = flat.grad.clone()

    def flat_step():
        flat.zero_grad()
        flat.grad.add_(saved)  # stands in for backward, which accumulates into the flat buffer
        flat.clip_grad_norm(0.5)
        flat.step()
    sides["ppo_lite FlatAdam (zero_grad, clip_grad_norm, step)"] = flat_step

    # The whole gradient step of trainer.update on a random batch (one epoch, one minibatch per call).
    cfg = PPOConfig.for_env("CartPole-v1", device=args.device, num_envs=args.batch, num_steps=1, update_epochs=1, num_minibatches=1)
    agent = ActorCritic(4, 2, True).to(device)
    opt = FlatAdam(agent, lr=1e-6, eps=cfg.adam_eps)
    g = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        obs = torch.randn(args.batch, 4, device=device)
        actions, logp, values = agent.act(obs)
    batch = {"obs": obs, "actions": actions, "logp": logp, "values": values,
             "advantages": torch.randn(args.batch, device=device), "returns": values + torch.randn(args.batch, device=device)}
    sides[f"trainer.update, 1 epoch x 1 minibatch of {args.batch} samples (one gradient step + per-update setup)"] = (
        lambda: update(agent, opt, batch, cfg, g))

    timings: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, fn in sides.items():  # sides alternate, so a slow moment of the machine hits all of them
            timings[name].append(_time(fn, args.steps, device))
    rows = [[name, f"{statistics.median(t):,.0f}", f"{min(t):,.0f}"] for name, t in timings.items()]
    body = markdown_table(["what (one gradient step)", "µs, median", "µs, best"], rows)
    base = statistics.median(timings["torch.optim.Adam(fused=True) + clip_grad_norm_"])
    ours = statistics.median(timings["ppo_lite FlatAdam (zero_grad, clip_grad_norm, step)"])
    body += f"\n\nFlatAdam saves {base - ours:,.0f} µs per gradient step against fused torch Adam ({base / ours:.1f}x less optimizer time)."
    publish(f"update_step_{device.type}", "One PPO gradient step: optimizer bookkeeping and the whole step", body)


if __name__ == "__main__":
    main()
