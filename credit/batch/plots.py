"""Pictures for people who would rather look than read: the grade distribution of a
rating run and, for a model comparison, both distributions side by side with the
histogram of score changes. PNG, drawn with matplotlib (imported only when asked)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:  # the CLI checks first (credit.batch.cli.require_batch_extra)
        raise RuntimeError("--plot needs matplotlib, part of the batch extra: "
                           "pip install 'credit-keqiao[batch]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _bars(ax, grades: Sequence[str], counts: Sequence[int], offset=0.0, width=0.8,
          label=None):
    x = np.arange(len(grades)) + offset
    bars = ax.bar(x, counts, width=width, label=label)
    for rect, n in zip(bars, counts, strict=True):
        ax.annotate(f"{n:,}", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(np.arange(len(grades)), grades)
    ax.set_xlabel("grade")
    ax.set_ylabel("enterprises")
    ax.yaxis.get_major_locator().set_params(integer=True)


def grade_distribution(path: Path, grades: Sequence[str], counts: Sequence[int],
                       title: str) -> None:
    """Bar chart: enterprises per grade, best grade first."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    _bars(ax, grades, counts)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def comparison(path: Path, grades: Sequence[str], before: Sequence[int],
               after: Sequence[int], deltas_cents: np.ndarray, labels: tuple[str, str],
               title: str) -> None:
    """Left: grade distribution under both models. Right: histogram of the score
    changes of the enterprises whose score moves (points)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=120)
    _bars(left, grades, before, offset=-0.2, width=0.4, label=labels[0])
    _bars(left, grades, after, offset=0.2, width=0.4, label=labels[1])
    left.legend(fontsize=8)
    left.set_title("grade distribution", fontsize=10)
    points = np.asarray(deltas_cents, dtype=np.int64) / 100
    moved = points[points != 0]
    if len(moved):
        lo, hi = np.floor(moved.min()), np.ceil(moved.max())
        width = max(1.0, float(np.ceil((hi - lo + 1) / 60)))
        right.hist(moved, bins=np.arange(lo - width / 2, hi + width, width))
    right.yaxis.get_major_locator().set_params(integer=True)
    right.set_xlabel(f"score change ({labels[1]} − {labels[0]}, points)")
    right.set_ylabel("enterprises")
    right.set_title(f"score changes ({len(points) - len(moved):,} unchanged, not drawn)",
                    fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
