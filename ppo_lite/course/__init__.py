"""The course's floor: what only the notebooks use.

The exact tabular studies and the TRPO and PPO v1 studies (``tabular``, ``baselines``, ``gae_study``,
``surrogate_study``, ``trpo``, ``kl_constrained``, ``clip_study``, ``assembled_demo``, ``reinforce``), the debugging readings of notebook 10 (``debugging``), the
exercises and their checkers (``exercises/``), the figures (``plots/``, drawing only), the sliders (``widgets``),
printing numbers that every CPU prints alike (``report``), the website (``site/``) and the JupyterLab launcher
(``launcher``: ``python -m ppo_lite.course``). The course imports the library and the experiments; neither imports
the course (``tests/test_imports.py``).
"""
