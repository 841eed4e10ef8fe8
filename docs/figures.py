"""Draws the figures in docs/images that are not produced by imutrack itself: `python docs/figures.py`."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Arc, Ellipse, FancyArrowPatch, Rectangle  # noqa: E402

IMAGES = Path(__file__).resolve().parent / "images"


def arrow(ax, start, end, colour, text="", offset=(0.0, 0.0)):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color=colour, lw=1.6))
    if text:
        ax.text(end[0] + offset[0], end[1] + offset[1], text, color=colour, fontsize=10, ha="center", va="center")


def frames_figure(path: Path) -> Path:
    fig, (top, side) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")

    top.set_title("seen from above", fontsize=10)
    top.add_patch(Ellipse((0, 0), 2.4, 1.2, fc="#f1e3d3", ec="0.3"))
    top.add_patch(Ellipse((0, 0), 0.8, 0.8, fc="#e6cdb3", ec="0.3"))
    top.add_patch(Rectangle((-0.12, 0.55), 0.24, 0.1, fc="#333333"))
    top.text(0.3, 0.72, "sensor on sternum", fontsize=8)
    arrow(top, (0, 0.6), (0, 1.5), "#2ca02c", "forward", (0, 0.12))
    arrow(top, (0, 0), (-1.4, 0), "#1f77b4", "left", (-0.05, 0.12))
    top.add_patch(Arc((0, 0), 2.9, 2.9, theta1=95, theta2=150, color="#d62728", lw=2))
    arrow(top, (-0.95, 1.12), (-1.25, 0.78), "#d62728")
    top.text(-1.55, 1.2, "twist +\n(to the left)", color="#d62728", fontsize=10, ha="center")
    top.text(1.0, -1.05, "earth z points up, out of the page", fontsize=8, ha="center")
    top.set_xlim(-2, 2)
    top.set_ylim(-1.3, 1.8)

    side.set_title("seen from the left side", fontsize=10)
    side.plot([0, 0], [0, 1.6], color="0.3", lw=8, solid_capstyle="round")
    side.plot([0, 0.9], [0, 0], color="0.3", lw=8, solid_capstyle="round")
    side.add_patch(Rectangle((0.05, 1.1), 0.08, 0.25, fc="#333333"))
    arrow(side, (0.15, 1.22), (0.8, 1.22), "#2ca02c", "sensor's chest axis\n(e.g. +z)", (0.35, 0.0))
    arrow(side, (-0.6, 0.2), (-0.6, 1.0), "0.2", "earth z (up)", (0, 0.12))
    side.add_patch(Arc((0, 0), 2.6, 2.6, theta1=60, theta2=88, color="#ff7f0e", lw=2))
    arrow(side, (0.55, 1.17), (0.68, 1.12), "#ff7f0e")
    side.text(0.75, 1.5, "flexion + (slouch, forward)", color="#ff7f0e", fontsize=10)
    side.text(0.45, -0.25, "lean + = toward the left side", fontsize=8, ha="center")
    side.set_xlim(-1.0, 2.0)
    side.set_ylim(-0.4, 1.9)
    for ax in (top, side):
        ax.set_aspect("equal")
        ax.axis("off")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    print(frames_figure(IMAGES / "frames.png"))
