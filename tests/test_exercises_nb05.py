"""Notebook 05's checkers pass the reference, report a stub as not attempted, and catch (and name) the classic
wrong answers."""
import torch

from ppo_lite.course.exercises import nb05
from ppo_lite.objectives import clip_fraction, clipped_objective, ratio


def stub(*args, **kwargs):
    raise NotImplementedError


def test_nb05_references_pass_and_agree_with_library():
    assert nb05.check_clipped_objective(nb05._reference_clipped_objective)
    assert nb05.check_clipped_objective(
        lambda logp_new, logp_old, advantages, eps: clipped_objective(ratio(logp_new, logp_old), advantages, eps).mean())
    assert nb05.check_clip_fraction(nb05._reference_clip_fraction)
    assert nb05.check_clip_fraction(lambda logp_new, logp_old, eps: clip_fraction(ratio(logp_new, logp_old), eps))
    assert nb05.check_clip_gradient(nb05._solution_clip_gradient)


def test_nb05_stubs_are_not_attempted():
    for checker in (nb05.check_clipped_objective, nb05.check_clip_fraction, nb05.check_clip_gradient):
        result = checker(stub)
        assert not result and not result.attempted and repr(result).startswith("NOT ATTEMPTED")


def test_nb05_wrong_objectives_are_caught():
    for description, wrong in nb05.CLIPPED_OBJECTIVE_MISTAKES.items():
        result = nb05.check_clipped_objective(wrong)
        assert not result and result.mistake == description, description

    def clip_advantage(logp_new, logp_old, advantages, eps):  # clips the wrong factor: not a registered mistake
        r = torch.exp(logp_new - logp_old)
        return torch.minimum(r * advantages, r * torch.clamp(advantages, -eps, eps)).mean()

    result = nb05.check_clipped_objective(clip_advantage)
    assert not result and result.attempted and result.mistake is None
    for description, wrong in nb05.CLIP_FRACTION_MISTAKES.items():
        result = nb05.check_clip_fraction(wrong)
        assert not result and result.mistake == description, description


def case_analysis_gradient(r, advantages, eps):
    """The table of notebook 05, section 2, written out sample by sample (an independent correct answer)."""
    out = torch.empty_like(r)
    for i, (ri, ai) in enumerate(zip(r.tolist(), advantages.tolist())):
        flat = (ai > 0 and ri > 1 + eps) or (ai < 0 and ri < 1 - eps)
        out[i] = 0.0 if flat else ri * ai
    return out


def test_clip_gradient_checker_passes_an_independent_answer_and_matches_finite_differences():
    assert nb05.check_clip_gradient(case_analysis_gradient)
    # The reference (autograd) against central finite differences in log pi, away from the band edges.
    gen = torch.Generator().manual_seed(0)
    r = torch.exp(0.4 * torch.randn(200, generator=gen, dtype=torch.float64))
    a = torch.randn(200, generator=gen, dtype=torch.float64)
    eps, h = 0.2, 1e-6
    far = ((r - (1 - eps)).abs() > 1e-3) & ((r - (1 + eps)).abs() > 1e-3)
    logp = torch.log(r)
    fd = (clipped_objective(torch.exp(logp + h), a, eps) - clipped_objective(torch.exp(logp - h), a, eps)) / (2 * h)
    assert torch.allclose(nb05._solution_clip_gradient(r, a, eps)[far], fd[far], atol=1e-6)
    assert (nb05._solution_clip_gradient(r, a, eps) == 0).any() and (nb05._solution_clip_gradient(r, a, eps) != 0).any()


def test_clip_gradient_mistakes_are_caught_and_named():
    for description, wrong in nb05.CLIP_GRADIENT_MISTAKES.items():
        result = nb05.check_clip_gradient(wrong)
        assert not result and result.attempted, description
        assert result.mistake == description, (description, result.message)

    def surrogate_gradient(r, advantages, eps):  # forgets the clip altogether: not a registered mistake
        return r * advantages

    result = nb05.check_clip_gradient(surrogate_gradient)
    assert not result and result.mistake is None

    def swapped_by_hand(r, advantages, eps):  # the wrong-side mistake written differently, still recognised
        keep = ((advantages > 0) & (r >= 1 - eps)) | ((advantages < 0) & (r <= 1 + eps))
        return torch.where(keep, r * advantages, torch.zeros_like(r))

    result = nb05.check_clip_gradient(swapped_by_hand)
    assert not result and result.mistake is not None and "wrong side" in result.mistake


def test_no_public_solutions():
    assert not [n for n in dir(nb05) if n.startswith(("solution", "reference"))]


def _summary():
    return {"summary": [
        {"env_id": "CartPole-v1", "label": "0.2", "max_approx_kl": 0.05, "median_ratio_dev": 0.4, "max_ratio_dev": 1.6},
        {"env_id": "CartPole-v1", "label": "none", "max_approx_kl": 4.1, "median_ratio_dev": 2.2, "max_ratio_dev": 400.0},
        {"env_id": "Other-v0", "label": "0.2", "max_approx_kl": 9.0, "median_ratio_dev": 1.0, "max_ratio_dev": 1.0},
    ]}


def test_sweep_reading_checker():
    results = _summary()
    assert nb05.check_sweep_reading("none", 5.5, results)               # 2.2 / 0.4
    assert nb05.check_sweep_reading("none", 5.6, results)               # read off to 2 digits: within 3%
    assert not nb05.check_sweep_reading(None, None, results).attempted
    assert not nb05.check_sweep_reading("none", None, results).attempted
    wrong_setting = nb05.check_sweep_reading("0.2", 5.5, results)
    assert not wrong_setting and wrong_setting.attempted
    assert "not a setting" in nb05.check_sweep_reading("0.7", 5.5, results).message
    assert not nb05.check_sweep_reading("none", "five", results)


def test_sweep_reading_cannot_be_guessed_and_names_the_usual_misreadings():
    """The old yes/no second answer passed one of two guesses; a number does not: neither True/False (1.0/0.0) nor a
    misreading of the table passes, and the misreadings are named."""
    results = _summary()
    for guess in (True, False, 1.0, 2.0, 10.0):
        result = nb05.check_sweep_reading("none", guess, results)
        assert not result and result.attempted, guess
    named = {
        "max over updates": 400.0 / 1.6,   # max in place of the median
        "inverted": 0.4 / 2.2,             # the ratio inverted
        "the number 0.2": 2.2 / 0.2,       # divided by eps itself
    }
    for words, value in named.items():
        result = nb05.check_sweep_reading("none", value, results)
        assert not result and result.mistake is not None and words in result.mistake, (words, result)


def test_sweep_reading_on_the_committed_sweep():
    import json

    from ppo_lite.experiments import FIGURES

    results = json.loads((FIGURES / "clip_eps.json").read_text())
    rows = {r["label"]: r for r in results["summary"] if r["env_id"] == "CartPole-v1"}
    label = max(rows, key=lambda k: rows[k]["max_approx_kl"])
    right = rows[label]["median_ratio_dev"] / rows["0.2"]["median_ratio_dev"]
    assert nb05.check_sweep_reading(label, right, results)
    assert not nb05.check_sweep_reading(label, 1.1 * right, results)
