"""Notebook 03's checkers pass the reference and catch the classic wrong answers."""
import torch

from ppo_lite.exercises import nb03
from ppo_lite.objectives import surrogate_loss


def test_references_pass_and_agree_with_library():
    assert nb03.check_surrogate(nb03.reference_surrogate)
    assert nb03.check_surrogate(lambda logp_new, logp_old, advantages: -surrogate_loss(logp_new, logp_old, advantages))
    assert nb03.check_state_kl(nb03.reference_state_kl)


def test_wrong_answers_are_caught():
    assert not nb03.check_surrogate(lambda logp_new, logp_old, advantages: (torch.exp(logp_old - logp_new) * advantages).mean())
    assert not nb03.check_surrogate(lambda logp_new, logp_old, advantages: (logp_new * advantages).mean())
    assert not nb03.check_state_kl(lambda pi_old, pi_new: nb03.reference_state_kl(pi_new, pi_old))  # wrong direction
    result = nb03.check_state_kl(lambda pi_old, pi_new: (pi_old * torch.log(pi_old / pi_new)).sum(-1))  # 0 log 0
    assert not result and "NaN" in result.message
