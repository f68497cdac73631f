"""Notebook 02's checkers pass the reference, report a stub as not attempted, and catch (and name) the classic
wrong answers."""
import torch

from ppo_lite.advantages import gae, td_residuals
from ppo_lite.course.exercises import nb02


def stub(*args, **kwargs):
    raise NotImplementedError


def test_td_residuals_checker():
    assert nb02.check_td_residuals(td_residuals)
    result = nb02.check_td_residuals(stub)
    assert not result and not result.attempted and "NOT ATTEMPTED" in repr(result)
    no_mask = lambda rewards, values, next_values, terminated, gamma: rewards + gamma * next_values - values  # noqa: E731
    result = nb02.check_td_residuals(no_mask)
    assert not result and result.mistake is not None and "termination mask" in result.mistake
    no_discount = lambda rewards, values, next_values, terminated, gamma: (  # noqa: E731
        rewards + (~terminated) * next_values - values)
    result = nb02.check_td_residuals(no_discount)
    assert not result and result.mistake is not None and "discount" in result.mistake
    wrong_sign = lambda rewards, values, next_values, terminated, gamma: (  # noqa: E731
        -(rewards + gamma * (~terminated) * next_values - values))
    result = nb02.check_td_residuals(wrong_sign)
    assert not result and result.attempted and result.mistake is None


def loop_gae(rewards, values, final_values, last_values, terminated, truncated, gamma, lam):
    """An independent, step-by-step GAE over an autoreset rollout (what a learner writes)."""
    T, N = rewards.shape
    out = torch.zeros(T, N, dtype=rewards.dtype)
    for n in range(N):
        carried = 0.0
        for t in reversed(range(T)):
            done = bool(terminated[t, n] or truncated[t, n])
            if terminated[t, n]:
                next_v = 0.0
            elif truncated[t, n]:
                next_v = float(final_values[t, n])
            else:
                next_v = float(values[t + 1, n]) if t + 1 < T else float(last_values[n])
            delta = float(rewards[t, n]) + gamma * next_v - float(values[t, n])
            carried = delta + (0.0 if done else gamma * lam * carried)
            out[t, n] = carried
    return out


def test_rollout_gae_checker_passes_the_reference_and_an_independent_loop():
    assert nb02.check_rollout_gae(nb02._solution_rollout_gae)
    assert nb02.check_rollout_gae(loop_gae)
    result = nb02.check_rollout_gae(stub)
    assert not result and not result.attempted and "NOT ATTEMPTED" in repr(result)


def test_rollout_gae_reference_against_hand_computed_case():
    # one env, 4 steps: step 1 truncated (final obs value 10), step 2 terminated (final value ignored)
    rewards = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    values = torch.tensor([[0.5], [0.25], [-1.0], [2.0]], dtype=torch.float64)  # values[2] is a reset observation's
    final = torch.tensor([[99.0], [10.0], [77.0], [99.0]], dtype=torch.float64)
    last = torch.tensor([8.0], dtype=torch.float64)
    term = torch.tensor([[False], [False], [True], [False]])
    trunc = torch.tensor([[False], [True], [False], [False]])
    g, lam = 0.5, 0.5
    a3 = 4.0 + g * 8.0 - 2.0
    a2 = 3.0 - (-1.0)                          # terminated: no bootstrap, nothing carried
    a1 = 2.0 + g * 10.0 - 0.25                 # truncated: bootstrap from the final observation, nothing carried
    a0 = (1.0 + g * 0.25 - 0.5) + g * lam * a1
    expected = torch.tensor([[a0], [a1], [a2], [a3]], dtype=torch.float64)
    got = nb02._solution_rollout_gae(rewards, values, final, last, term, trunc, g, lam)
    assert torch.allclose(got, expected, atol=1e-12)


def test_rollout_gae_mistakes_are_caught_and_named():
    for description, wrong in nb02.ROLLOUT_GAE_MISTAKES.items():
        result = nb02.check_rollout_gae(wrong)
        assert not result and result.attempted, description
        assert result.mistake == description, (description, result.message)

    def cleanrl_style(rewards, values, final_values, last_values, terminated, truncated, gamma, lam):
        done = terminated | truncated          # the time limit treated as terminal, written out as a loop
        nxt = torch.cat([values[1:], last_values[None]])
        out, running = torch.empty_like(rewards), torch.zeros_like(rewards[0])
        for t in reversed(range(len(rewards))):
            delta = rewards[t] + gamma * (~done[t]) * nxt[t] - values[t]
            running = delta + gamma * lam * (~done[t]) * running
            out[t] = running
        return out

    result = nb02.check_rollout_gae(cleanrl_style)
    assert not result and result.mistake is not None and "truncation as termination" in result.mistake

    no_lambda = lambda rewards, values, final_values, last_values, terminated, truncated, gamma, lam: (  # noqa: E731
        nb02._solution_rollout_gae(rewards, values, final_values, last_values, terminated, truncated, gamma, 1.0))
    result = nb02.check_rollout_gae(no_lambda)
    assert not result and result.mistake is None

    crash = lambda *a, **k: 1 / 0  # noqa: E731
    assert "ZeroDivisionError" in nb02.check_rollout_gae(crash).message


def test_rollout_next_values_agrees_with_library_gae_convention():
    gen = torch.Generator().manual_seed(1)
    T, N = 40, 3
    ends = torch.rand(T, N, generator=gen)
    inputs = {
        "rewards": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "final_values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "last_values": torch.randn(N, generator=gen, dtype=torch.float64),
        "terminated": ends < 0.1, "truncated": ends > 0.9, "gamma": 0.9, "lam": 0.8,
    }
    assert inputs["terminated"].any() and inputs["truncated"].any()
    nv = nb02._rollout_next_values(inputs["values"], inputs["final_values"], inputs["last_values"],
                                  inputs["terminated"], inputs["truncated"])
    direct = gae(inputs["rewards"], inputs["values"], nv, inputs["terminated"], inputs["truncated"],
                 inputs["gamma"], inputs["lam"])
    assert torch.allclose(direct, loop_gae(**inputs), atol=1e-12)
