"""The notebook 05 slider explorers: callbacks change the plotted data as the formulas say, on the same figure."""
import pytest

pytest.importorskip("matplotlib")
from ppo_lite.course.widgets import ClipObjectiveExplorer, ClipSweepExplorer, render_png  # noqa: E402


def independent_clipped(r, a, eps):
    """min(rA, clip(r)A) written case by case (Spinning Up's g(ε, A) form), not with the library."""
    g = (1 + eps) * a if a >= 0 else (1 - eps) * a
    return [min(x * a, g) for x in r]


@pytest.mark.parametrize("eps,sign", [(0.2, 1), (0.2, -1), (0.05, 1), (0.5, -1)])
def test_objective_explorer_lines_follow_the_formula(eps, sign):
    ex = ClipObjectiveExplorer(eps=0.3, adv_sign=1)
    fig, line, surrogate = ex.fig, ex.clipped_line, ex.surrogate_line
    ex.update(eps, sign)
    assert ex.fig is fig and ex.clipped_line is line  # the same figure and artists, only their data changed
    r = list(map(float, line.get_xdata()))
    y = list(map(float, line.get_ydata()))
    expected = independent_clipped(r, float(sign), eps)
    assert max(abs(a - b) for a, b in zip(y, expected)) < 1e-12
    assert max(abs(float(s) - x * sign) for s, x in zip(surrogate.get_ydata(), r)) < 1e-12
    assert list(ex.low_edge.get_xdata()) == [1 - eps, 1 - eps]
    assert list(ex.high_edge.get_xdata()) == [1 + eps, 1 + eps]


def test_objective_explorer_refuses_bad_values_and_renders_on_the_image():
    ex = ClipObjectiveExplorer()
    with pytest.raises(ValueError, match="clip"):
        ex.update(0.0, 1)
    with pytest.raises(ValueError, match="adv_sign"):
        ex.update(0.2, 0)
    box = ex.widget()
    image = box.children[1]
    before = image.value
    assert before[:8] == b"\x89PNG\r\n\x1a\n"
    eps_slider = box.children[0].children[0]
    eps_slider.value = 0.6  # what a learner's drag does: the observer calls update
    assert ex.eps == pytest.approx(0.6) and image.value != before
    sign = box.children[0].children[1]
    sign.value = -1
    assert ex.adv_sign == -1
    # r = 0 < 1 - ε with A = -1: min(rA, (1-ε)A) = min(0, -0.4) = -0.4, the pessimistic side
    assert float(ex.clipped_line.get_ydata()[0]) == pytest.approx(-0.4)


def fake_results():
    runs = []
    for label in ("0.1", "0.2", "none"):
        for seed in range(2):
            n = 5
            tag = {"0.1": 1.0, "0.2": 2.0, "none": 3.0}[label] + 0.1 * seed
            runs.append({
                "env_id": "CartPole-v1", "label": label, "seed": seed,
                "updates": {
                    "env_steps": [256.0 * (i + 1) for i in range(n)],
                    "return": [tag * 100 + i for i in range(n)],
                    "clip_frac": [tag / 10] * n,
                    "approx_kl": [tag / 100] * n,
                    "ratio_max_dev": [tag] * n,
                    "frac_outside": [tag / 20] * n,
                    "clip_eps": [0.2 if label == "none" else float(label)] * n,
                },
            })
    return {"labels": ["0.1", "0.2", "none"], "runs": runs}


def test_sweep_explorer_shows_the_selected_runs():
    ex = ClipSweepExplorer(fake_results(), label="0.1")
    fig, lines = ex.fig, ex.lines["return"][1]
    ex.update("none")
    assert ex.fig is fig and ex.lines["return"][1] is lines
    assert list(ex.lines["return"][0].get_ydata()) == [300 + i for i in range(5)]
    assert list(ex.lines["return"][1].get_ydata()) == pytest.approx([310 + i for i in range(5)])
    assert list(ex.lines["ratio_max_dev"][0].get_ydata()) == [3.0] * 5
    ex.update("0.2")
    assert list(ex.lines["clip_frac"][1].get_ydata()) == pytest.approx([0.21] * 5)
    assert list(ex.band_line.get_ydata()) == [0.2] * 5
    ex.update("0.1")
    assert list(ex.band_line.get_ydata()) == [0.1] * 5
    with pytest.raises(ValueError, match="setting"):
        ex.update("0.7")
    box = ex.widget()
    slider = box.children[0].children[0]
    before = box.children[1].value
    slider.value = "none"
    assert ex.label == "none" and box.children[1].value != before


def test_render_png_is_png():
    ex = ClipObjectiveExplorer()
    assert render_png(ex.fig)[:4] == b"\x89PNG"


# -- the data behind the sweep explorer (ppo_lite.experiments.clip_eps) -------------------------------------------
def test_ratio_measurement_leaves_training_unchanged_and_measures_the_update():
    from ppo_lite import PPOConfig, train
    from ppo_lite.experiments import clip_eps

    steps = 3 * 256
    measured = clip_eps.run_one("CartPole-v1", "0.2", seed=3, total_steps=steps)
    plain = train(PPOConfig.for_env("CartPole-v1", seed=3, clip_eps=0.2, total_steps=steps), progress=False)
    u = measured["updates"]
    for key in ("env_steps", "approx_kl", "clip_frac"):
        assert u[key] == plain[key]
    dev, outside = u["ratio_max_dev"], u["frac_outside"]
    assert len(dev) == len(plain) and all(d > 0 for d in dev)
    assert all((f > 0) == (d > 0.2) for d, f in zip(dev, outside))
    # the two sides of the band split the samples outside it (A = 0 exactly, in neither, does not occur here)
    for f, c, o in zip(outside, u["frac_outside_clipped_side"], u["frac_outside_free_side"]):
        assert c + o == pytest.approx(f, abs=1e-9)


def test_annealed_eps_and_bad_settings():
    from ppo_lite.experiments import clip_eps

    from ppo_lite import PPOConfig

    annealed = PPOConfig.for_env("CartPole-v1", total_steps=1024, **clip_eps.setting("anneal"))  # 4 updates of 256
    assert [annealed.clip_eps_at(k) for k in range(4)] == pytest.approx([0.2, 0.15, 0.1, 0.05])
    assert [annealed.replace(anneal_clip_eps=False).clip_eps_at(k) for k in range(4)] == [0.2] * 4
    assert clip_eps.setting("none")["objective"] == "surrogate"
    with pytest.raises(ValueError, match="unknown setting"):
        clip_eps.setting("wide")
    with pytest.raises(ValueError, match="> 0"):
        clip_eps.setting("0")
