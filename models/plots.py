"""The plots a reliability engineer looks at first, saved as PNG files for the MLflow run."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

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
    """Predicted vs true RUL, error by true-RUL band, and risk calibration; returns the files.

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

    fig, ax = plt.subplots(figsize=(5, 5))
    failed = (true_rul <= horizon_cycles).astype(float)
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(risk, edges) - 1, 0, 9)
    mean_risk = [risk[which == b].mean() for b in range(10) if (which == b).any()]
    observed = [failed[which == b].mean() for b in range(10) if (which == b).any()]
    ax.plot([0, 1], [0, 1], color="black", linewidth=1)
    ax.plot(mean_risk, observed, marker="o")
    ax.set(
        xlabel="predicted risk",
        ylabel=f"observed failure within {horizon_cycles} {unit.label()}",
        title="Risk calibration",
    )
    paths.append(folder / "risk_calibration.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths
