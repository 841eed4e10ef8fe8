"""Draws the figures in docs/images that are not produced by imutrack itself: `python docs/figures.py`."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Arc, Ellipse, FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle  # noqa: E402

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


def _torso(ax, title):
    """A seated person's upper body seen from the front."""
    ax.set_title(title, fontsize=10)
    ax.add_patch(Ellipse((0, 2.05), 0.62, 0.75, fc="#f1e3d3", ec="0.3"))  # head
    ax.add_patch(Rectangle((-0.1, 1.55), 0.2, 0.2, fc="#f1e3d3", ec="none"))  # neck
    ax.add_patch(Polygon([(-0.8, 1.6), (0.8, 1.6), (0.62, 0.0), (-0.62, 0.0)], closed=True, fc="#cfe0ee", ec="0.3"))
    ax.plot([0, 0], [0.45, 1.5], color="0.55", lw=1, ls=":")  # the breastbone's line
    ax.text(0.05, 0.35, "breastbone", fontsize=7, color="0.4")
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-0.25, 2.6)
    ax.set_aspect("equal")
    ax.axis("off")


def _strap(ax, y):
    ax.add_patch(Rectangle((-0.72, y - 0.06), 1.44, 0.12, fc="#555555", ec="none", alpha=0.8))


def _phone(ax, centre, screen_out=True, upside_down=False):
    x, y = centre
    ax.add_patch(FancyBboxPatch((x - 0.17, y - 0.32), 0.34, 0.64, boxstyle="round,pad=0.02",
                                fc="#2b2b2b" if screen_out else "#9a9a9a", ec="0.1"))
    if screen_out:
        ax.add_patch(Rectangle((x - 0.14, y - 0.26), 0.28, 0.52, fc="#8fc3ea", ec="none"))
        ear = y + (0.29 if not upside_down else -0.29)
        ax.plot([x - 0.04, x + 0.04], [ear, ear], color="0.8", lw=2)  # the earpiece: the phone's top
    else:
        ax.add_patch(Ellipse((x - 0.08, y + 0.2), 0.09, 0.09, fc="0.2"))  # the back's camera


def wearing_figure(path: Path) -> Path:
    fig, axes = plt.subplots(1, 4, figsize=(12, 4.2), layout="constrained")
    sensor, phone, inward, upside = axes
    _torso(sensor, "a chest sensor")
    _strap(sensor, 1.05)
    sensor.add_patch(FancyBboxPatch((-0.14, 0.97), 0.28, 0.2, boxstyle="round,pad=0.02", fc="#333333"))
    sensor.text(0, -0.15, "flat on the breastbone, below the collarbones,\nstrap snug; its chest axis points out",
                fontsize=8, ha="center", va="top")
    _torso(phone, "a phone: screen outward, upright")
    _strap(phone, 1.0)
    _phone(phone, (0, 1.0))
    arrow(phone, (0.3, 0.85), (0.3, 1.3), "#2ca02c", "top up", (0.2, 0.05))
    phone.text(0, -0.15, "in a chest strap or running belt;\nthe screen (z) faces away from you", fontsize=8,
               ha="center", va="top")
    _torso(inward, "screen inward: found and corrected")
    _strap(inward, 1.0)
    _phone(inward, (0, 1.0), screen_out=False)
    inward.text(0, -0.15, "imutrack notices from your turns and measures\nit the other way round (and says so)",
                fontsize=8, ha="center", va="top", color="#b35900")
    _torso(upside, "upside down: harmless")
    _strap(upside, 1.0)
    _phone(upside, (0, 1.0), upside_down=True)
    upside.text(0, -0.15, "the angles are the same;\nimutrack mentions it", fontsize=8, ha="center", va="top",
                color="#555555")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def phyphox_qr(path: Path) -> Path:
    """The QR code phyphox reads imutrack's experiment from (the same one `imutrack phone-setup --png` writes)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from imutrack.sources.phyphox_experiment import qr_codes

    [code] = qr_codes()
    code.save(path, scale=5, border=4)
    return path


if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    print(frames_figure(IMAGES / "frames.png"))
    print(wearing_figure(IMAGES / "wearing.png"))
    print(phyphox_qr(IMAGES / "phyphox-qr.png"))
