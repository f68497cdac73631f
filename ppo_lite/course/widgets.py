r"""Slider explorers for notebook 05: the clipped objective against the ratio, and the clip-range sweep's curves.

Each explorer owns one persistent matplotlib figure. A slider move calls a pure :meth:`update`, which changes the
line artists' data (``set_data``) and re-renders the same figure to a PNG shown by an ``ipywidgets.Image``: no
figure is rebuilt and no ``clear_output`` is sent, so redraws do not flicker and nbval sees no callback output.
``ipympl`` is not needed. :meth:`widget` builds the sliders; tests and notebooks drive :meth:`update` directly.

Importing this module imports matplotlib and ipywidgets (the core library does not).
"""
from __future__ import annotations

import io
from typing import Any

import torch
from matplotlib.figure import Figure

from ..objectives import clipped_objective

__all__ = ["ClipObjectiveExplorer", "ClipSweepExplorer", "render_png"]


def render_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (what the ``Image`` widget shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class ClipObjectiveExplorer:
    r"""Per-sample objectives against the ratio r for one advantage A = ±|A|:

    the surrogate :math:`rA` (dashed), the clipped objective :math:`\min(rA, \mathrm{clip}(r, 1-\epsilon, 1+\epsilon)A)`
    (solid, from :func:`ppo_lite.objectives.clipped_objective`), and the band edges :math:`1 \pm \epsilon`.
    """

    def __init__(self, eps: float = 0.2, adv_sign: int = 1, adv_abs: float = 1.0, r_max: float = 2.5, points: int = 501) -> None:
        self.r = torch.linspace(0.0, r_max, points, dtype=torch.float64)
        self.adv_abs = adv_abs
        self.fig = Figure(figsize=(6.4, 3.6), layout="constrained")
        ax = self.ax = self.fig.add_subplot()
        (self.surrogate_line,) = ax.plot([], [], "--", color="gray", label=r"surrogate $rA$")
        (self.clipped_line,) = ax.plot([], [], color="C0", lw=2.5, label=r"clipped $\min(rA,\ \mathrm{clip}(r)A)$")
        self.low_edge = ax.axvline(1.0, color="C3", lw=1, ls=":")
        self.high_edge = ax.axvline(1.0, color="C3", lw=1, ls=":", label=r"$1\pm\epsilon$")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xlim(0.0, r_max)
        ax.set_ylim(-r_max * adv_abs * 1.05, r_max * adv_abs * 1.05)
        ax.set_xlabel(r"probability ratio $r = \pi_\theta(a|s)/\pi_{old}(a|s)$ (dimensionless)")
        ax.set_ylabel("per-sample objective (advantage units)")
        ax.legend(loc="upper left", fontsize=8)
        self._image: Any = None
        self.update(eps, adv_sign)

    def objective(self, eps: float, adv_sign: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(surrogate rA, clipped objective) on the grid of r."""
        adv = torch.full_like(self.r, adv_sign * self.adv_abs)
        return self.r * adv, clipped_objective(self.r, adv, eps)

    def update(self, eps: float, adv_sign: int) -> None:
        """Slider callback: redraw for clip ε and advantage sign (+1 or −1) by changing the lines' data."""
        if not eps > 0:
            raise ValueError(f"clip ε must be > 0, got {eps}")
        if adv_sign not in (1, -1):
            raise ValueError(f"adv_sign must be +1 or -1, got {adv_sign}")
        self.eps, self.adv_sign = float(eps), int(adv_sign)
        surrogate, clipped = self.objective(eps, adv_sign)
        self.surrogate_line.set_data(self.r.numpy(), surrogate.numpy())
        self.clipped_line.set_data(self.r.numpy(), clipped.numpy())
        self.low_edge.set_xdata([1.0 - eps, 1.0 - eps])
        self.high_edge.set_xdata([1.0 + eps, 1.0 + eps])
        self.ax.set_title(rf"$A {'>' if adv_sign > 0 else '<'} 0$, $\epsilon = {eps:.2f}$: flat (zero gradient) for "
                          + (r"$r > 1+\epsilon$" if adv_sign > 0 else r"$r < 1-\epsilon$"), fontsize=10)
        if self._image is not None:
            self._image.value = render_png(self.fig)

    def widget(self):
        """Sliders for ε and the advantage's sign above the figure (display it in a notebook)."""
        import ipywidgets as w

        eps = w.FloatSlider(value=self.eps, min=0.02, max=0.8, step=0.01, description="clip ε", continuous_update=True)
        sign = w.ToggleButtons(options=[("A > 0", 1), ("A < 0", -1)], value=self.adv_sign, description="advantage")
        self._image = w.Image(value=render_png(self.fig), format="png")
        eps.observe(lambda change: self.update(change["new"], sign.value), names="value")
        sign.observe(lambda change: self.update(eps.value, change["new"]), names="value")
        return w.VBox([w.HBox([eps, sign]), self._image])


class ClipSweepExplorer:
    """Training curves of the clip-range sweep (``figures/clip_eps.json``): one setting at a time, one line per seed.

    Panels: smoothed episode return, the trainer's clip fraction, approximate KL(π_old‖π_new), and max |r − 1|
    after each update's last epoch, all against environment steps.
    """

    PANELS = (
        ("return", "return (mean of last 20 episodes)"),
        ("clip_frac", "clip fraction (during the epochs)"),
        ("approx_kl", "approx. KL (nats)"),
        ("ratio_max_dev", r"max $|r-1|$ after the update"),
    )

    def __init__(self, results: dict[str, Any], env_id: str | None = None, label: str = "0.2") -> None:
        self.runs = results["runs"]
        envs = sorted({r["env_id"] for r in self.runs})
        if not envs:
            raise ValueError("ClipSweepExplorer: the results hold no runs")
        self.envs = envs
        self.labels = [lab for lab in results.get("labels", []) if any(r["label"] == lab for r in self.runs)] or sorted({r["label"] for r in self.runs})
        seeds = max(len([r for r in self.runs if r["env_id"] == e and r["label"] == lab]) for e in envs for lab in self.labels)
        self.fig = Figure(figsize=(11, 5.2), layout="constrained")
        axes = self.fig.subplots(2, 2, sharex=True)
        self.axes = dict(zip([k for k, _ in self.PANELS], axes.flat))
        self.lines: dict[str, list] = {}
        for key, ylabel in self.PANELS:
            ax = self.axes[key]
            self.lines[key] = [ax.plot([], [], color=f"C{i}", lw=1.2, label=f"seed {i}")[0] for i in range(seeds)]
            ax.set_ylabel(ylabel, fontsize=9)
        (self.band_line,) = self.axes["ratio_max_dev"].plot([], [], color="k", ls="--", lw=1, label=r"clip $\epsilon$ (band edge)")
        for ax in axes[1]:
            ax.set_xlabel("environment steps")
        self.axes["return"].legend(fontsize=8)
        self.axes["ratio_max_dev"].legend(fontsize=8)
        self._image: Any = None
        self.update(label, env_id or envs[0])

    def select(self, label: str, env_id: str) -> list[dict[str, Any]]:
        """The runs of one setting, by seed."""
        runs = sorted((r for r in self.runs if r["env_id"] == env_id and r["label"] == label), key=lambda r: r["seed"])
        if not runs:
            raise ValueError(f"no runs for env {env_id!r} and setting {label!r}; settings: {self.labels}, envs: {self.envs}")
        return runs

    def update(self, label: str, env_id: str | None = None) -> None:
        """Slider callback: show the curves of setting ``label`` ("0.2", "none", "anneal", ...) on ``env_id``."""
        env_id = env_id or self.env_id
        runs = self.select(label, env_id)
        self.label, self.env_id = label, env_id
        self.band_line.set_data(runs[0]["updates"]["env_steps"], runs[0]["updates"]["clip_eps"])
        for key, _ in self.PANELS:
            for i, line in enumerate(self.lines[key]):
                if i < len(runs):
                    u = runs[i]["updates"]
                    line.set_data(u["env_steps"], [float("nan") if v is None else v for v in u[key]])
                else:
                    line.set_data([], [])
            ax = self.axes[key]
            ax.relim()
            ax.autoscale_view()
        name = {"none": "no clip (surrogate); band drawn at ε=0.2", "anneal": "ε annealed linearly from 0.2 to 0"}.get(label, f"clip ε = {label}")
        self.fig.suptitle(f"{env_id}: {name}", fontsize=11)
        if self._image is not None:
            self._image.value = render_png(self.fig)

    def widget(self):
        """A slider over the settings (and a dropdown over envs when there are several) above the figure."""
        import ipywidgets as w

        setting = w.SelectionSlider(options=self.labels, value=self.label, description="clip ε", continuous_update=True)
        env = w.Dropdown(options=self.envs, value=self.env_id, description="env")
        self._image = w.Image(value=render_png(self.fig), format="png")
        setting.observe(lambda change: self.update(change["new"], env.value), names="value")
        env.observe(lambda change: self.update(setting.value, change["new"]), names="value")
        controls = [setting] + ([env] if len(self.envs) > 1 else [])
        return w.VBox([w.HBox(controls), self._image])
