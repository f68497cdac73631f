"""Notebook 05's checkers pass the reference and catch the classic wrong answers."""
import torch

from ppo_lite.exercises import nb05
from ppo_lite.objectives import clip_fraction, clipped_objective, ratio


def test_nb05_references_pass_and_agree_with_library():
    assert nb05.check_clipped_objective(nb05.reference_clipped_objective)
    assert nb05.check_clipped_objective(
        lambda logp_new, logp_old, advantages, eps: clipped_objective(ratio(logp_new, logp_old), advantages, eps).mean())
    assert nb05.check_clip_fraction(nb05.reference_clip_fraction)
    assert nb05.check_clip_fraction(lambda logp_new, logp_old, eps: clip_fraction(ratio(logp_new, logp_old), eps))


def test_nb05_wrong_answers_are_caught():
    def no_min(logp_new, logp_old, advantages, eps):  # clip alone, without the pessimistic min
        return (torch.clamp(torch.exp(logp_new - logp_old), 1 - eps, 1 + eps) * advantages).mean()

    def max_instead(logp_new, logp_old, advantages, eps):
        r = torch.exp(logp_new - logp_old)
        return torch.maximum(r * advantages, torch.clamp(r, 1 - eps, 1 + eps) * advantages).mean()

    def clip_advantage(logp_new, logp_old, advantages, eps):  # clips the wrong factor
        r = torch.exp(logp_new - logp_old)
        return torch.minimum(r * advantages, r * torch.clamp(advantages, -eps, eps)).mean()

    for wrong in (no_min, max_instead, clip_advantage):
        assert not nb05.check_clipped_objective(wrong), wrong.__name__
    assert not nb05.check_clip_fraction(lambda logp_new, logp_old, eps: ((logp_new - logp_old).abs() > eps).float().mean())
    assert not nb05.check_clip_fraction(lambda logp_new, logp_old, eps: (torch.exp(logp_new - logp_old) > 1 + eps).float().mean())
