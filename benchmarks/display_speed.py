"""How fast does `show_image` draw a full HSC-sized frame?  Target: under 1 s with zscale.

A 2048 x 4176 float32 frame (sky noise + stars, a few NaN pixels, as after ISR) is drawn with
``stretch="zscale"`` and rendered to PNG (Agg, dpi 100).  Peer measured in the same run: plain
matplotlib — ``ZScaleInterval().get_limits`` + ``imshow(norm=ImageNormalize(...))`` + colour bar +
``savefig`` — which is what a learner would write by hand.  Also timed: the same frame as an
``lsst.images.MaskedImage`` with three mask planes overlaid, and a 3-panel `compare`.
Printed: the minimum of several runs (the machine is shared), and ratios to the peer.

Run: ``.venv/bin/python benchmarks/display_speed.py``
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import matplotlib
from _timing import best  # benchmarks/_timing.py (this script's folder is on sys.path)

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

SHAPE = (4176, 2048)
REPEAT = 5


def _frame(rng: np.random.Generator) -> np.ndarray:
    frame = rng.normal(0.0, 10.0, SHAPE).astype(np.float32)
    ys = rng.integers(0, SHAPE[0], 400)
    xs = rng.integers(0, SHAPE[1], 400)
    frame[ys, xs] += rng.uniform(100, 50000, 400).astype(np.float32)  # hot pixels / star cores
    frame[100:103, :] = np.nan  # a bad row
    return frame


def _best(func: Callable[[], Any]) -> float:
    return best(func, REPEAT, cleanup=lambda: plt.close("all"))


def _png(fig: Any) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=100)


def main() -> None:
    from astropy.visualization import ImageNormalize, LinearStretch, ZScaleInterval

    from stackclub import compare, show_image

    rng = np.random.default_rng(20261125)
    frame = _frame(rng)

    def peer() -> None:
        finite = frame[np.isfinite(frame)]
        vmin, vmax = ZScaleInterval().get_limits(finite)
        fig, ax = plt.subplots(figsize=(5.0, 9.0))
        image = ax.imshow(
            frame,
            origin="lower",
            cmap="gray",
            norm=ImageNormalize(vmin=vmin, vmax=vmax, stretch=LinearStretch()),
        )
        fig.colorbar(image, ax=ax)
        _png(fig)

    def ours() -> None:
        _png(show_image(frame).figure)

    def ours_draw_only() -> None:
        show_image(frame).figure.canvas.draw()

    masked = None
    try:
        from lsst.images import Image, MaskedImage, MaskSchema, get_legacy_visit_image_mask_planes

        masked = MaskedImage(
            Image(frame), mask_schema=MaskSchema(list(get_legacy_visit_image_mask_planes().values()))
        )
        for name, rows in (
            ("SATURATED", slice(2000, 2010)),
            ("COSMIC_RAY", slice(3000, 3002)),
            ("DETECTED", slice(1000, 1400)),
        ):
            plane = np.zeros(SHAPE, bool)
            plane[rows, 100:1800] = True
            masked.mask.set(name, plane)
    except ImportError:
        pass

    def ours_masked() -> None:
        _png(show_image(masked).figure)

    def ours_compare() -> None:
        _png(compare([frame, frame - 1.0, frame * 0.5], ["a", "b", "c"]))

    ours()  # warm up imports and matplotlib's caches once
    peer()
    peer_s = _best(peer)
    rows = [
        ("plain matplotlib imshow + ZScaleInterval + PNG (peer)", peer_s),
        ("show_image(frame) + PNG", _best(ours)),
        ("show_image(frame) + canvas.draw()", _best(ours_draw_only)),
    ]
    if masked is not None:
        rows.append(("show_image(MaskedImage, 3 planes) + PNG", _best(ours_masked)))
    rows.append(("compare(3 frames, shared zscale) + PNG", _best(ours_compare)))
    print(f"2048 x 4176 float32 frame, best of {REPEAT} runs")
    print(f"{'what':58s} {'seconds':>8s} {'vs peer':>8s}")
    for label, seconds in rows:
        print(f"{label:58s} {seconds:8.3f} {seconds / peer_s:8.2f}")
    target = rows[1][1]
    print(f"show_image + PNG with zscale: {target:.3f} s (target < 1 s: {'OK' if target < 1.0 else 'OVER'})")


if __name__ == "__main__":
    main()
