"""Printing numbers that a notebook's test compares, so that the printout is the same on every CPU.

``pytest --nbval`` compares each cell's printed output with the committed one. Floating-point rounding depends on
the CPU's instruction set and on the kernels ATen and MKL pick for it (AVX-512 on one machine, AVX2 or SSE on
another), so an error of ``6.1e-16`` on one machine prints as ``7.8e-16`` on the next. What the claim is about is
the bound, not the last bits: print the bound, assert it in the same cell.
"""
from __future__ import annotations


def below(value: float, bound: float) -> str:
    """``"< 1e-12"`` when ``value < bound``; otherwise ``"= 3.1e-09 (NOT < 1e-12)"``, which a reader sees at once.

    The result depends on the value only through the comparison, so it prints the same on every machine where the
    claim ``value < bound`` holds (and the cell's assert fails where it does not).
    """
    value = float(value)
    if value < bound:
        return f"< {bound:.0e}"
    return f"= {value:.1e} (NOT < {bound:.0e})"


def fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals and no negative zero: a rounding residue of ``-1e-17`` prints ``0.0000``."""
    return f"{round(float(value), digits) + 0.0:.{digits}f}"
