"""Notebook 07's checkers pass the references, report a stub as not attempted, and catch (and name) the usual
wrong answers: the normal quantile in a five-seed interval, Bonferroni or a non-monotone Holm, an "all off" that
drops the epochs or an "all on" that is not the tuned defaults."""
import torch

from ppo_lite.experiments import stats
from ppo_lite.course.exercises import nb07
from tests.exercise_checks import assert_rejects_stub_and_names_mistakes


def test_nb07_references_pass():
    assert nb07.check_t_interval(nb07._reference_t_interval)
    assert nb07.check_holm(nb07._reference_holm)
    assert nb07.check_leave_one_out(nb07._reference_config)


def test_holm_by_hand():
    # p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005, 0.01, 0.03, 0.04 -> 4*0.005 = 0.02, 3*0.01 = 0.03,
    # 2*0.03 = 0.06, 1*0.04 = 0.04 -> running max 0.02, 0.03, 0.06, 0.06; back in input order:
    assert torch.allclose(nb07._reference_holm(torch.tensor([0.01, 0.04, 0.03, 0.005], dtype=torch.float64)),
                          torch.tensor([0.03, 0.06, 0.06, 0.02], dtype=torch.float64))
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == [0.03, 0.06, 0.06, 0.02]


def test_nb07_stubs_and_mistakes():
    assert_rejects_stub_and_names_mistakes(nb07.check_t_interval, nb07.T_INTERVAL_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb07.check_holm, nb07.HOLM_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb07.check_leave_one_out, nb07.LEAVE_ONE_OUT_MISTAKES)
