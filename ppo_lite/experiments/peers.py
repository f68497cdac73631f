r"""PPO beside the peers a user would pick instead of it (issue 29 point 5): the analysis of ``figures/peers.json``.

``bench/peers.py`` trains Stable-Baselines3's A2C and sb3-contrib's TRPO with rl-baselines3-zoo's tuned
hyperparameters on CartPole-v1 and Pendulum-v1 at the benchmark's budget (100,000 env steps) and scores every run
as the benchmark scores PPO (10 deterministic episodes on the held-out evaluation envs,
:func:`ppo_lite.experiments.sweep.score_agents`' protocol). This module reads that file and
``figures/benchmark.json`` and, per task and peer, compares the benchmark's PPO per-seed evaluation returns (variant
``ppo``: the library's defaults) with the peer's:

:math:`d = \bar R_{PPO} - \bar R_{peer}`, Welch's standard error and Welch–Satterthwaite degrees of freedom
(:func:`ppo_lite.experiments.stats.compare`) at the margin δ the caller declares (issue 29: δ = 0.05 × (solved −
random), ``verdicts.margin(env_id, verdicts.SOTA_MARGIN_FRACTION)``), each comparison labelled twice by the
caller's ``decide`` (``ppo_lite.experiments.verdicts.decide``):

- **"not worse"**: PPO non-inferior to the peer (the one-sided (1 − α) lower bound of d above −δ);
- **"an effect"**, direction +1: PPO better than the peer (the difference test rejects with d > 0; *does not hold*
  where d is shown below +δ).

Each label is given at α per task (``labels``, the level issue 29 declares) and with every test's p-value
Holm-adjusted over the tasks of that peer (``labels_holm``, :func:`ppo_lite.experiments.stats.holm_across`).

The margins and ``decide`` are passed in, not imported: the verdict table (``verdicts``) reads this module, and an
import back would close a cycle (``tests/test_imports.py``). Trains nothing, writes nothing, imports no SB3.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

from . import FIGURES, stats

PEERS_FILE = "peers.json"
BENCHMARK_FILE = "benchmark.json"
COMMAND = "python bench/peers.py"
PEER_NAMES: dict[str, str] = {"a2c": "A2C", "trpo": "TRPO"}
"""How each peer algorithm of ``figures/peers.json`` is named in the table (SB3's A2C, sb3-contrib's TRPO)."""
CLAIMS: dict[str, int] = {"not worse": 0, "an effect": +1}
"""The claims each comparison is labelled for, with the direction ``decide`` takes (PPO − peer: +1 is PPO better)."""

Decide = Callable[[str, stats.Comparison, int], str]


def load(figures: str | Path = FIGURES) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(peers.json, benchmark.json)`` of ``figures`` as dicts, None for a missing or unreadable file."""
    out = []
    for name in (PEERS_FILE, BENCHMARK_FILE):
        try:
            out.append(json.loads((Path(figures) / name).read_text()))
        except (OSError, json.JSONDecodeError):
            out.append(None)
    return out[0], out[1]


def tasks_of(peers: Mapping[str, Any]) -> list[str]:
    """The tasks ``peers.json`` has rows for, in its order (those the caller needs margins for)."""
    return list(dict.fromkeys(r["env_id"] for r in peers.get("summary", [])))


def _comparison_record(env_id: str, peer: str, ppo: Mapping[str, Any], row: Mapping[str, Any],
                       c: stats.Comparison) -> dict[str, Any]:
    lo, hi = c.interval()
    t_lo, t_hi = c.tost_interval
    return {
        "env_id": env_id, "peer": peer, "peer_name": PEER_NAMES.get(peer, peer), "test": c.test,
        "ppo_seeds": len(ppo["per_seed"]), "peer_seeds": len(row["per_seed"]),
        "ppo_mean": sum(ppo["per_seed"]) / len(ppo["per_seed"]),
        "peer_mean": sum(row["per_seed"]) / len(row["per_seed"]),
        "ppo_budget": ppo.get("budget"), "peer_budget": row.get("budget"),
        "same_budget": ppo.get("budget") == row.get("budget"),
        "diff": c.estimate, "se": c.se, "df": c.df, "margin": c.margin, "alpha": c.alpha,
        "ci": [lo, hi], "tost_interval": [t_lo, t_hi], "lower_bound": c.lower_bound, "upper_bound": c.upper_bound,
        "p_difference": c.p_difference, "p_lower": c.p_lower, "p_upper": c.p_upper, "p_tost": c.p_tost,
        "p_inferior": c.p_inferior,
    }


def compare_with_peers(peers: Mapping[str, Any], benchmark: Mapping[str, Any], margins: Mapping[str, float],
                       decide: Decide, alpha: float = 0.05) -> dict[str, Any]:
    r"""PPO (``benchmark``'s variant ``ppo``) against each peer of ``peers`` per task (module docstring).

    ``margins``: δ in return units per task; ``decide``: ``verdicts.decide``. Returns a plain dict:
    ``comparisons`` (one per task and peer: means, seeds, d, its Welch (1 − α) interval ``ci`` and (1 − 2α)
    ``tost_interval``, δ, every p-value raw and Holm-adjusted over the peer's tasks (``holm``), the ``labels`` and
    ``labels_holm`` of :data:`CLAIMS`), ``labels`` (peer → task → claim → label, per task at α), ``labels_holm``,
    ``skipped`` (task/peer pairs that cannot be compared, with why), ``complete`` and ``note`` (what is missing),
    and ``experiment`` (the file and the command that regenerates it)."""
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha}")
    for name, data in (("peers", peers), ("benchmark", benchmark)):
        if not isinstance(data, Mapping) or not isinstance(data.get("summary"), list):
            raise ValueError(f"{name}: expected a results file's dict with a 'summary' list, got {type(data).__name__}")
    ppo_rows = {r["env_id"]: r for r in benchmark["summary"] if r.get("variant") == "ppo"}
    comparisons: list[dict[str, Any]] = []
    raw: dict[str, list[tuple[int, stats.Comparison]]] = {}  # peer -> (index in comparisons, comparison)
    skipped: list[dict[str, str]] = []
    for row in peers["summary"]:
        env_id, peer = row["env_id"], row["algo"]
        ppo = ppo_rows.get(env_id)
        why = ("the benchmark has no PPO row for the task" if ppo is None
               else "fewer than two seeds on one side" if min(len(ppo["per_seed"]), len(row["per_seed"])) < 2
               else "no margin declared for the task" if env_id not in margins else "")
        if why:
            skipped.append({"env_id": env_id, "peer": peer, "why": why})
            continue
        c = stats.compare(ppo["per_seed"], row["per_seed"], float(margins[env_id]), alpha)
        record = _comparison_record(env_id, peer, ppo, row, c)
        record["labels"] = {claim: decide(claim, c, direction) for claim, direction in CLAIMS.items()}
        raw.setdefault(peer, []).append((len(comparisons), c))
        comparisons.append(record)
    for peer, pairs in raw.items():
        for (i, _), adjusted in zip(pairs, stats.holm_across([c for _, c in pairs])):
            comparisons[i]["holm"] = {name: getattr(adjusted, f"p_{name}")
                                      for name in ("difference", "lower", "upper", "tost", "inferior")}
            comparisons[i]["labels_holm"] = {claim: decide(claim, adjusted, direction) for claim, direction in CLAIMS.items()}
    labels: dict[str, dict[str, dict[str, str]]] = {}
    labels_holm: dict[str, dict[str, dict[str, str]]] = {}
    for r in comparisons:
        labels.setdefault(r["peer"], {})[r["env_id"]] = r["labels"]
        labels_holm.setdefault(r["peer"], {})[r["env_id"]] = r["labels_holm"]

    notes = []
    if not peers.get("complete"):
        notes.append(f"partial: {peers.get('cells_done', '?')} of {peers.get('cells_expected', '?')} peer cells")
    if not benchmark.get("complete"):
        notes.append(f"partial: {benchmark.get('cells_done', '?')} of {benchmark.get('cells_expected', '?')} benchmark cells")
    if peers.get("episodes") != benchmark.get("episodes"):
        notes.append(f"evaluation episodes differ: peers {peers.get('episodes')}, benchmark {benchmark.get('episodes')}")
    other_budget = [f"{r['env_id']}/{r['peer']}" for r in comparisons if not r["same_budget"]]
    if other_budget:
        notes.append(f"different budgets from PPO's on {', '.join(other_budget)}")
    command = peers.get("meta", {}).get("command", COMMAND)
    return {
        "experiment": f"figures/{PEERS_FILE} (`{command}`) beside figures/{BENCHMARK_FILE}",
        "alpha": alpha, "margins": {e: float(m) for e, m in margins.items()},
        "comparisons": comparisons, "labels": labels, "labels_holm": labels_holm, "skipped": skipped,
        "complete": not notes and not skipped and bool(comparisons), "note": "; ".join(notes),
    }


def _num(x: float, digits: int, sign: bool = False) -> str:
    """A number with a typographic minus (and a + when ``sign``)."""
    return f"{float(x) + 0.0:{'+' if sign else ''}.{digits}f}".replace("-", "−")


def describe(result: Mapping[str, Any], digits: int = 1) -> list[str]:
    """One line per comparison of :func:`compare_with_peers`' result, for a verdict row's statistic:
    ``CartPole-v1: PPO − A2C +12.3 [+1.0, +23.6] (Welch 95%, 5 vs 10 seeds, δ = 22.7); not worse: holds; an
    effect: holds``."""
    lines = []
    for r in result["comparisons"]:
        level = round(100 * (1 - r["alpha"]))
        labels = "; ".join(f"{claim}: {label}" for claim, label in r["labels"].items())
        lines.append(f"{r['env_id']}: PPO − {r['peer_name']} {_num(r['diff'], digits, True)} "
                     f"[{_num(r['ci'][0], digits, True)}, {_num(r['ci'][1], digits, True)}] (Welch {level}%, "
                     f"{r['ppo_seeds']} vs {r['peer_seeds']} seeds, δ = {_num(r['margin'], digits)}); {labels}")
    return lines
