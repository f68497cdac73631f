"""Figures for the notebooks: one module per notebook (nb03, nb04, ...). Imports matplotlib; the library does not."""
