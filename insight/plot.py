"""Frontier figures: accuracy against average tokens per question, one panel per store.

Each strategy is one curve through its settings in the order of the swept
parameter, with the bootstrap interval as error bars. Pareto-optimal settings
(across all strategies in the panel) get a black edge and sit on a dashed
frontier line. Drawn with matplotlib's object API on the Agg canvas — no
pyplot, no global backend switch — so it is safe inside any program.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from ttsc.errors import TtscError
from ttsc.insight.frontier import AVERAGE, Point, swept

AXES = {
    "tokens": ("avg_tokens", "pareto", "average tokens per question (log scale)", "Accuracy vs. tokens"),
    "sequential": ("avg_sequential_tokens", "pareto_sequential",
                   "average sequential tokens per question (log scale)", "Accuracy vs. sequential tokens (latency)"),
}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "<")
GREEK = {"beta": "β", "alpha": "α", "gamma": "γ", "delta": "δ", "tau": "τ"}


def plot_frontier(points: Sequence[Point], stem: str | Path, *, x: str = "tokens", title: str | None = None,
                  ci: bool = True, dpi: int = 200) -> list[Path]:
    """Draw ``points`` (as from :func:`~ttsc.insight.frontier.frontier`) to ``stem``.png and ``stem``.svg.

    ``ci`` draws each point's accuracy interval. Over a few dozen questions
    these are wide (the same questions for every strategy, so they say little
    about which strategy wins; see :func:`ttsc.insight.stats.compare`);
    without them the panels zoom in on the curves.
    """
    import matplotlib  # imported here: it is slow to load and only figures need it
    from matplotlib.figure import Figure
    if x not in AXES:
        raise TtscError(f"unknown x axis {x!r}; choose one of {', '.join(AXES)}")
    if not points:
        raise TtscError("nothing to plot: no points")
    cost, pareto_attr, xlabel, default_title = AXES[x]
    envs = _panel_order(points)
    strategies = list(dict.fromkeys(p.strategy for p in points))
    style = {s: (COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]) for i, s in enumerate(strategies)}
    labels = {s: _label(s, [p for p in points if p.strategy == s]) for s in strategies}

    ncols = min(4, math.ceil(math.sqrt(len(envs))))  # 2 → 2×1, 4 → 2×2, 13 → 4×4
    nrows = math.ceil(len(envs) / ncols)
    width = 6.0 if ncols == 1 else 4.4 * ncols
    with matplotlib.rc_context({"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8.5,
                                "svg.hashsalt": "ttsc", "svg.fonttype": "none"}):
        fig = Figure(figsize=(width, 3.9 * nrows + 1.1), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax, env in zip(axes.flat, envs):
            _panel(ax, [p for p in points if p.env == env], env, cost, pareto_attr, style, labels, ci)
        for ax in list(axes.flat)[len(envs):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel(xlabel)
        for row in axes:
            row[0].set_ylabel("accuracy (%)")
        handles, names = _legend(strategies, style, labels, ci)
        rows = math.ceil(len(names) / max(1, math.floor(width / 2.2)))
        per_row = math.ceil(len(names) / rows)  # balanced rows rather than a lone last entry
        fig.legend(handles, names, loc="outside lower center", ncols=per_row, frameon=False)
        fig.suptitle(title or default_title, fontweight="bold")
        stem = Path(stem)
        out = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
        try:
            fig.savefig(out[0], dpi=dpi, metadata={"Software": None})
            fig.savefig(out[1], metadata={"Date": None})
        except OSError as exc:
            raise TtscError(f"cannot write {stem}: {exc.strerror or exc}") from None
    return out


def _panel(ax, points: list[Point], env: str, cost: str, pareto_attr: str, style: dict, labels: dict,
           ci: bool) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    hidden = [p for p in points if not getattr(p, cost) > 0]  # a log axis has no place for zero tokens
    if hidden:
        names = ", ".join(f"{p.strategy} {_setting(p, points)}".strip() for p in hidden)
        ax.text(0.01, 0.01, f"not shown (0 tokens): {names}", transform=ax.transAxes, fontsize=7, color="0.4",
                ha="left", va="bottom")
        points = [p for p in points if getattr(p, cost) > 0]
    ax.set_title("average over stores" if env == AVERAGE else env)
    if not points:
        ax.set_xticks([])
        return
    for strategy in dict.fromkeys(p.strategy for p in points):
        color, marker = style[strategy]
        curve = sorted((p for p in points if p.strategy == strategy), key=_sweep_key(points, strategy))
        xs = [getattr(p, cost) for p in curve]
        ys = [p.accuracy for p in curve]
        ax.plot(xs, ys, "-", color=color, lw=1.4, alpha=0.9, zorder=2, marker=marker, ms=4.5, mfc=color, mec=color)
        keys = swept([p for p in points if p.strategy == strategy])
        if len(keys) == 1 and len(curve) > 1:  # name the two ends of the sweep
            for p, xv, yv, side in ((curve[0], xs[0], ys[0], -1), (curve[-1], xs[-1], ys[-1], 1)):
                ax.annotate(_value(p.params[keys[0]]), (xv, yv), xytext=(6 * side, 5 * side),
                            textcoords="offset points", ha="left" if side > 0 else "right",
                            va="bottom" if side > 0 else "top", fontsize=7, color=color, fontweight="bold")
        with_ci = [(xv, p) for xv, p in zip(xs, curve) if ci and p.acc_ci is not None]
        if with_ci:
            ax.errorbar([xv for xv, _ in with_ci], [p.accuracy for _, p in with_ci],
                        yerr=[[p.accuracy - p.acc_ci[0] for _, p in with_ci],
                              [p.acc_ci[1] - p.accuracy for _, p in with_ci]],
                        fmt="none", ecolor=color, elinewidth=0.9, capsize=0, alpha=0.25, zorder=1)
        best = [(xv, p.accuracy) for xv, p in zip(xs, curve) if getattr(p, pareto_attr)]
        if best:
            ax.plot(*zip(*best), linestyle="none", marker=marker, ms=7, mfc=color, mec="black", mew=1.3, zorder=4)
    if not ci:  # without intervals, frame the points tightly so the curves' shapes read clearly
        accs = [p.accuracy for p in points]
        pad = max(1.0, 0.12 * (max(accs) - min(accs)))
        ax.set_ylim(max(-1.0, min(accs) - pad), min(101.0, max(accs) + pad))
    front = sorted((getattr(p, cost), p.accuracy) for p in points if getattr(p, pareto_attr))
    if len(front) > 1:
        ax.step(*zip(*front), where="post", color="black", lw=0.9, ls=(0, (4, 3)), alpha=0.55, zorder=3,
                label="Pareto frontier")
    ax.set_xscale("log")
    costs = [getattr(p, cost) for p in points if getattr(p, cost) > 0]
    decades = math.log10(max(costs) / min(costs)) if costs else 3.0
    # Enough labelled ticks to read a value off a narrow panel, few enough not to collide on a wide one.
    subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if decades < 1.0 else (1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _si(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", color="0.88", lw=0.7)
    ax.grid(True, which="minor", axis="x", color="0.94", lw=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.margins(x=0.06, y=0.04)


def _legend(strategies: list[str], style: dict, labels: dict, ci: bool) -> tuple[list, list[str]]:
    """One entry per strategy, then what the marks mean."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=style[s][0], marker=style[s][1], ms=4.5, lw=1.4) for s in strategies]
    names = [labels[s] for s in strategies]
    handles += [Line2D([], [], color="0.35", marker="o", ms=7, mfc="white", mec="black", mew=1.3, ls="none"),
                Line2D([], [], color="black", lw=0.9, ls=(0, (4, 3)), alpha=0.55)]
    names += ["Pareto-optimal", "Pareto frontier"]
    if ci:
        handles.append(Line2D([], [], color="0.4", marker="|", ms=9, mew=0.8, ls="none", alpha=0.6))
        names.append("95% CI (bootstrap over questions)")
    return handles, names


def _panel_order(points: Sequence[Point]) -> list[str]:
    envs = list(dict.fromkeys(p.env for p in points if p.env != AVERAGE))
    return envs + ([AVERAGE] if any(p.env == AVERAGE for p in points) else [])


def _setting(p: Point, points: list[Point]) -> str:
    keys = swept([q for q in points if q.strategy == p.strategy])
    return " ".join(f"{k}={_value(p.params[k])}" for k in keys)


def _sweep_key(points: list[Point], strategy: str):
    keys = swept([p for p in points if p.strategy == strategy])
    return lambda p: tuple(p.params.get(k) for k in keys)


def _label(strategy: str, points: list[Point]) -> str:
    keys = swept(points)
    if len(keys) != 1:
        return strategy
    name = keys[0]
    values = sorted((p.params[name] for p in points), key=lambda v: (v is None, v or 0))
    return f"{strategy} ({GREEK.get(name, name)} {_value(values[0])}–{_value(values[-1])})"


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) or v is None else str(v)


def _si(v: float) -> str:
    """100000 → 100k, 1500000 → 1.5M: short tick labels for token counts."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"
