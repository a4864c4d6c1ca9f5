#!/usr/bin/env python3
"""Reference resizes for Ponder's image preprocessing, from Pillow.

llama.cpp's mtmd resizes images with a port of Pillow's separable resampling (bilinear,
bicubic with a = -0.5, Lanczos-3; 22-bit fixed-point weights; 8-bit between the horizontal
and the vertical pass, always in that order). Pillow's single-axis passes are therefore the
reference: this script writes a few small random-but-smooth RGB images and their resizes, up
and down, with each filter.

Output (Tests/InferenceTests/Fixtures/resize/):
  source-<W>x<H>.rgb           raw interleaved RGB bytes
  references.json              [{"source", "width", "height", "filter", "out_width",
                                 "out_height", "file"}]
  <name>.rgb                   Pillow's result, raw RGB

Usage: python3 Scripts/make_resize_fixtures.py   (pip install pillow numpy)
"""
import json
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "InferenceTests", "Fixtures", "resize")
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}


def source(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([
        128 + 100 * np.sin(x / 5.0 + seed),
        128 + 100 * np.cos(y / 7.0 - seed),
        (x * 255 // max(1, width - 1)) ^ (y * 3 % 256),
    ], axis=-1)
    noise = rng.integers(-40, 41, size=base.shape)
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    # Hard edges too: a saturated block, where the cubic and Lanczos lobes clip.
    pixels[height // 3: height // 2, width // 4: width // 2] = [255, 0, 255]
    return pixels


def main():
    os.makedirs(OUT, exist_ok=True)
    references = []
    cases = [
        ((37, 23), [(56, 56), (56, 35), (19, 12), (100, 9), (37, 40)]),
        ((80, 45), [(56, 32), (128, 72), (64, 64), (7, 5)]),
    ]
    for seed, ((w, h), targets) in enumerate(cases):
        pixels = source(w, h, seed)
        name = f"source-{w}x{h}.rgb"
        pixels.tofile(os.path.join(OUT, name))
        image = Image.fromarray(pixels, "RGB")
        for (tw, th) in targets:
            for fname, f in FILTERS.items():
                # llama.cpp always runs the horizontal pass first; Pillow's own resize picks
                # the cheaper order (vertical first when it shrinks the height and grows the
                # width), which rounds differently between the passes. So take Pillow's
                # single-axis passes in llama.cpp's order.
                result = np.asarray(image.resize((tw, h), f).resize((tw, th), f), dtype=np.uint8)
                out = f"{w}x{h}-to-{tw}x{th}-{fname}.rgb"
                result.tofile(os.path.join(OUT, out))
                references.append({"source": name, "width": w, "height": h, "filter": fname,
                                   "out_width": tw, "out_height": th, "file": out})
    with open(os.path.join(OUT, "references.json"), "w") as f:
        json.dump(references, f, indent=1)
    print(f"wrote {len(references)} Pillow resizes to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
