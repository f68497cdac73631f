"""Figures for the notebooks: one module per notebook (nb03, nb04, ...). Imports matplotlib; the library does not."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def save_figures(figures: dict[str, Figure], outdir: Path, dpi: int = 110, **savefig_kwargs) -> list[Path]:
    """Write each figure as ``outdir/name`` (PNG), close it, and return the paths; ``outdir`` is created if missing.

    Further keyword arguments go to ``Figure.savefig`` (``bbox_inches="tight"``, say)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        path = outdir / name
        fig.savefig(path, dpi=dpi, **savefig_kwargs)
        plt.close(fig)
        paths.append(path)
    return paths
