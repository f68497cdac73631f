"""Notebook 04's checkers pass the reference and catch the classic wrong answers."""
import torch

from ppo_lite.exercises import nb04
from ppo_lite.kl import kl_k3


def test_references_pass_and_agree_with_library():
    assert nb04.check_k3(nb04.reference_k3)
    assert nb04.check_k3(kl_k3)
    assert nb04.check_dual_update(nb04.reference_dual_update)
    assert nb04.check_tilted(nb04.reference_tilted)


def test_wrong_answers_are_caught():
    assert not nb04.check_k3(lambda logp_new, logp_old: logp_old - logp_new)  # k1
    assert not nb04.check_k3(lambda logp_new, logp_old: torch.exp(logp_old - logp_new) - 1 - (logp_old - logp_new))
    assert not nb04.check_dual_update(lambda eta, kl, delta, lr: eta + lr * (kl - delta))  # no projection
    assert not nb04.check_dual_update(lambda eta, kl, delta, lr: torch.clamp(eta - lr * (kl - delta), min=0.0))
    assert not nb04.check_tilted(lambda advantages, q, eta: torch.softmax(advantages / eta, -1))  # forgot q
