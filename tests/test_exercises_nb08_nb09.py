"""Notebooks 08 and 09: each checker passes the reference, reports the stub as not attempted, and names its usual
mistakes."""
import torch

from ppo_lite.course.exercises import nb08, nb09
from ppo_lite.experiments.scaling import amdahl_time, fit_line
from ppo_lite.envs.exploration import count_bonus, shaping_reward
from tests.exercise_checks import assert_rejects_stub_and_names_mistakes


def test_references_pass():
    assert nb08.check_fit_line(lambda envs, seconds: fit_line(envs.tolist(), seconds.tolist()))
    assert nb08.check_amdahl_time(amdahl_time)
    assert nb09.check_shaping_reward(shaping_reward) and nb09.check_count_bonus(count_bonus)
    assert nb09.check_expected_max(nb09._reference_expected_max)


def test_expected_max_by_hand():
    # scores 1, 2, 3; k = 2 draws with replacement: P(max = 1) = 1/9, P(max = 2) = 3/9, P(max = 3) = 5/9 -> 22/9
    assert abs(nb09._reference_expected_max(torch.tensor([3.0, 1.0, 2.0]), 2) - 22 / 9) < 1e-12


def test_stubs_and_mistakes():
    assert_rejects_stub_and_names_mistakes(nb08.check_fit_line, nb08.FIT_LINE_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb08.check_amdahl_time, nb08.AMDAHL_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb09.check_shaping_reward, nb09.SHAPING_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb09.check_count_bonus, nb09.COUNT_BONUS_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb09.check_expected_max, nb09.EXPECTED_MAX_MISTAKES)
