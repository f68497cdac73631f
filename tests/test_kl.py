import math

import pytest
import torch

from ppo_lite.kl import AdaptiveBeta, DualDescent, kl_k1, kl_k2, kl_k3


def _gaussian_samples(mu_p, mu_q, sigma_q, n=400_000, seed=0):
    """Samples from p = N(mu_p, 1); log p and log q; exact KL(p || q)."""
    g = torch.Generator().manual_seed(seed)
    x = mu_p + torch.randn(n, generator=g, dtype=torch.float64)
    p = torch.distributions.Normal(mu_p, 1.0)
    q = torch.distributions.Normal(mu_q, sigma_q)
    exact = torch.distributions.kl_divergence(p, q).item()
    return q.log_prob(x), p.log_prob(x), exact


@pytest.mark.parametrize("mu_q,sigma_q", [(0.1, 1.0), (0.5, 1.2), (1.0, 0.8)])
def test_k1_and_k3_are_unbiased(mu_q, sigma_q):
    logp_new, logp_old, exact = _gaussian_samples(0.0, mu_q, sigma_q)
    for estimator in (kl_k1, kl_k3):
        samples = estimator(logp_new, logp_old)
        stderr = samples.std().item() / math.sqrt(samples.numel())
        assert abs(samples.mean().item() - exact) < 4 * stderr + 1e-9, estimator.__name__


def test_k3_is_nonnegative_and_k1_is_not():
    logp_new, logp_old, _ = _gaussian_samples(0.0, 1.0, 0.8, n=10_000)
    assert bool((kl_k3(logp_new, logp_old) >= 0).all())
    assert bool((kl_k1(logp_new, logp_old) < 0).any())
    assert bool((kl_k2(logp_new, logp_old) >= 0).all())


def test_k2_is_biased_for_distant_policies_and_k3_has_lower_variance_than_k1_when_close():
    logp_new, logp_old, exact = _gaussian_samples(0.0, 1.5, 1.0)
    k2 = kl_k2(logp_new, logp_old)
    assert abs(k2.mean().item() - exact) > 10 * k2.std().item() / math.sqrt(k2.numel())
    logp_new, logp_old, _ = _gaussian_samples(0.0, 0.1, 1.0)
    assert kl_k3(logp_new, logp_old).std() < kl_k1(logp_new, logp_old).std()


def test_dual_descent_step():
    ctl = DualDescent(target=0.01, init=1.0, lr=10.0)
    assert ctl.update(0.03).item() == pytest.approx(1.0 + 10.0 * 0.02)  # violated: η rises
    assert ctl.update(0.0).item() == pytest.approx(1.2 - 0.1)  # slack: η falls
    for _ in range(100):
        ctl.update(0.0)
    assert ctl.coef.item() == 0.0  # never below 0


def test_adaptive_beta_matches_paper_rule():
    ctl = AdaptiveBeta(target=0.01, init=1.0)
    assert ctl.update(0.016).item() == 2.0  # d > 1.5 d_targ: β×2
    assert ctl.update(0.015).item() == 2.0  # 1.5 d_targ is not above: unchanged
    assert ctl.update(0.01 / 1.5 + 1e-6).item() == 2.0  # inside the band: unchanged
    assert ctl.update(0.006).item() == 1.0  # d < d_targ/1.5: β/2
    assert ctl.update(torch.tensor(0.5)).item() == 2.0


def test_controllers_round_trip_state_and_refuse_bad_values():
    ctl = DualDescent(0.02, 0.5, 3.0)
    ctl.update(0.1)
    other = DualDescent()
    other.load_state_dict(ctl.state_dict())
    assert other.coef.item() == ctl.coef.item() and other.target == 0.02 and other.lr == 3.0
    with pytest.raises(ValueError, match="delta"):
        DualDescent(target=0.0)
    with pytest.raises(ValueError, match="d_targ"):
        AdaptiveBeta(target=-1.0)
