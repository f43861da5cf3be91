"""The plots a reliability engineer looks at first, saved as PNG files for the MLflow run."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from models.labels import failure_within
from models.metrics import brier, reliability_curve
from models.units import Unit

BANDS = (0, 25, 50, 75, 100, 125, 10_000)


def save_plots(
    folder: Path,
    true_rul: np.ndarray,
    predicted_rul: np.ndarray,
    risk: np.ndarray,
    horizon_cycles: int,
    unit: Unit,
) -> list[Path]:
    """Predicted vs true RUL, error by true-RUL band, and the risk's reliability curve; returns the files.

    ``unit``: what the model's RUL counts (cycles for C-MAPSS, reading steps for a fleet), for the axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(true_rul, predicted_rul, s=4, alpha=0.4)
    top = float(max(true_rul.max(), predicted_rul.max(), 1.0))
    ax.plot([0, top], [0, top], color="black", linewidth=1)
    ax.set(xlabel=unit.axis("true RUL"), ylabel=unit.axis("predicted RUL"), title="Predicted vs true RUL")
    paths.append(folder / "predicted_vs_true_rul.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    error = predicted_rul - true_rul
    labels, groups = [], []
    for low, high in itertools.pairwise(BANDS):
        rows = (true_rul >= low) & (true_rul < high)
        if rows.any():
            labels.append(f"{low}-{high}" if high < 10_000 else f"{low}+")
            groups.append(error[rows])
    ax.boxplot(groups, tick_labels=labels, showfliers=False)
    ax.axhline(0, color="black", linewidth=1)
    ax.set(xlabel=unit.axis("true RUL band"), ylabel=unit.axis("predicted - true"), title="Error by RUL band")
    paths.append(folder / "error_by_rul_band.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig = reliability_figure(risk, failure_within(true_rul, horizon_cycles), horizon_cycles, unit)
    paths.append(folder / "risk_calibration.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def reliability_figure(risk: np.ndarray, failed: np.ndarray, horizon_cycles: int, unit: Unit) -> Any:
    """The reliability diagram: observed failure rate against mean predicted risk per equal-width bin.

    A calibrated risk lies on the diagonal. The rows per bin are drawn as bars below (log scale: most
    rows of a fleet are healthy), since a bin of five rows says little; the title gives the Brier score.
    """
    import matplotlib.pyplot as plt

    curve = reliability_curve(risk, failed)
    filled = curve.counts > 0
    fig, (ax, bars) = plt.subplots(2, 1, figsize=(5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="black", linewidth=1, label="calibrated")
    ax.plot(curve.mean_risk[filled], curve.observed_rate[filled], marker="o", label="model")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        ylabel=f"observed failure within {horizon_cycles} {unit.label()}",
        title=f"Risk reliability (Brier {brier(risk, failed):.4f}, {len(risk)} rows)",
    )
    ax.legend(loc="upper left")
    centres = (curve.edges[:-1] + curve.edges[1:]) / 2
    bars.bar(centres, curve.counts, width=np.diff(curve.edges) * 0.9, color="grey")
    for x, n in zip(centres[filled], curve.counts[filled], strict=True):
        bars.annotate(str(int(n)), (x, n), ha="center", va="bottom", fontsize=7)
    bars.set(xlabel="predicted risk", ylabel="rows", yscale="log")
    bars.set_ylim(0.5, max(int(curve.counts.max()), 1) * 5)  # room for the largest bin's label
    return fig
