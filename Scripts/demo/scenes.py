#!/usr/bin/env python3
"""Synthetic shape scenes and four-stage (LLaVA-CoT) questions about them, deterministic by seed.

Each scene is a SIZE x SIZE picture (plain or lightly textured background) holding 1..6 shapes,
at most one per cell of a 3 x 3 grid, so that every shape has a position word ("the top left",
"the center", ...). A cell is 32 x 32 pixels, which is what one image token of the demo model
sees (patch 16, pixel shuffle 2), and each shape stays inside its cell. Shapes: circle, square, triangle, diamond; colours: red, green, blue,
yellow, purple, orange; sizes: small, large.

Questions (kind names are what the evaluation reports per type):
  count_both     How many red circles are there?
  count_colour   How many blue shapes are there?
  count_shape    How many triangles are there?
  colour_of      What colour is the square?                      (a unique shape)
  shape_of       What shape is the green object?                 (a unique colour)
  position       Is the red circle to the left of the blue square?  / above / below / right
  where          Where is the yellow triangle?                   (top left, center, ...)
  extreme        What colour is the largest shape? / What shape is the smallest object?
  exists         Is there a purple triangle?
  arithmetic     How many circles and squares are there in total? / How many more red shapes than blue shapes?
  choice         What shape is the orange object? A. circle B. square C. triangle  (a letter)

The answer: the caption lists every shape in reading order (row by row, left to right), each as
its position then its size, colour and shape; the reasoning walks those shapes one by one
(questions.py); the conclusion is one short word, number or letter.

Output (write_dataset): DIR/images/NAME.jpg and DIR/data.jsonl with LLaVA-CoT-100k records
  {"id", "image", "conversations": [{"from": "human", "value": "<image>\\nQ"}, {"from": "gpt", "value": A}, ...],
   "question", "conclusion", "kind"}   (image paths relative to the jsonl file; with --turns N,
N human/gpt pairs about one image, asked as one conversation, the last one scored).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import questions  # noqa: E402

SIZE = 96
JPEG_QUALITY = 90
GRID = 3
CELL = SIZE / GRID

COLOURS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
    "yellow": (235, 205, 30), "purple": (150, 60, 190), "orange": (245, 140, 20),
}
assert list(COLOURS) == questions.COLOURS
SHAPES = questions.SHAPES
SIZES = {"small": (12, 15), "large": (22, 27)}   # bounding-box side range in pixels
KINDS = questions.KINDS


# ------------------------------------------------------------------ scenes

def make_scene(rng: np.random.Generator) -> list[dict]:
    n = int(rng.choice([1, 2, 3, 3, 4, 4, 5, 5, 6]))
    cells = rng.choice(GRID * GRID, size=n, replace=False)
    objs = []
    for c in sorted(cells.tolist()):
        row, col = divmod(c, GRID)
        size = "small" if rng.random() < 0.5 else "large"
        lo, hi = SIZES[size]
        side = int(rng.integers(lo, hi + 1))
        margin = (CELL - side) / 2
        cx = (col + 0.5) * CELL + rng.uniform(-margin + 1, margin - 1)
        cy = (row + 0.5) * CELL + rng.uniform(-margin + 1, margin - 1)
        objs.append(dict(colour=str(rng.choice(list(COLOURS))), shape=str(rng.choice(SHAPES)), size=size,
                         side=side, cx=float(cx), cy=float(cy), row=row, col=col))
    return objs


def render(objs: list[dict], rng: np.random.Generator) -> Image.Image:
    base = rng.integers(200, 246)
    tint = rng.integers(-12, 13, 3)
    bg = np.clip(base + tint, 0, 255).astype(np.float32)
    img = np.ones((SIZE, SIZE, 3), np.float32) * bg
    if rng.random() < 0.5:  # light texture: noise plus a soft gradient
        img += rng.normal(0, 4, (SIZE, SIZE, 1))
        g = np.linspace(-1, 1, SIZE)[None, :, None] * rng.uniform(-10, 10)
        img += g if rng.random() < 0.5 else g.transpose(1, 0, 2)
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    for o in objs:
        h = o["side"] / 2
        x, y = o["cx"], o["cy"]
        jitter = rng.integers(-15, 16, 3)
        col = tuple(int(v) for v in np.clip(np.array(COLOURS[o["colour"]]) + jitter, 0, 255))
        if o["shape"] == "circle":
            d.ellipse([x - h, y - h, x + h, y + h], fill=col)
        elif o["shape"] == "square":
            s = h * 0.9
            d.rectangle([x - s, y - s, x + s, y + s], fill=col)
        elif o["shape"] == "triangle":
            d.polygon([(x, y - h), (x + h, y + h * 0.8), (x - h, y + h * 0.8)], fill=col)
        else:
            d.polygon([(x, y - h), (x + h * 0.85, y), (x, y + h), (x - h * 0.85, y)], fill=col)
    return im


def jpeg_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buf.getvalue()


def example_record(seed: int, index: int, turns: int = 1):
    """One evaluation record, a pure function of (seed, index, turns): the JPEG bytes and the
    last question's fields, with `history` the earlier (question, answer, conclusion) turns of
    the conversation (dialogues.conversation)."""
    import dialogues
    rng = np.random.default_rng([seed, index])
    _, im, out = dialogues.conversation(rng, turns)
    q, a, c, k = out[-1]
    return jpeg_bytes(im), dict(question=q, answer=a, conclusion=c, kind=k, history=[t[:3] for t in out[:-1]])


def _worker(args):
    seed, lo, hi, turns = args
    return [example_record(seed, i, turns) for i in range(lo, hi)]


def in_chunks(worker, seed: int, n: int, option, workers: int = 1) -> list:
    """`worker((seed, lo, hi, option))` over chunks of 500 indices, in `workers` processes,
    concatenated in index order."""
    chunks = [(seed, lo, min(n, lo + 500), option) for lo in range(0, n, 500)]
    if workers > 1:
        from multiprocessing import Pool
        with Pool(workers) as pool:
            parts = pool.map(worker, chunks)
    else:
        parts = [worker(c) for c in chunks]
    return [r for p in parts for r in p]


def generate(seed: int, n: int, workers: int = 1, turns: int = 1):
    return in_chunks(_worker, seed, n, turns, workers)


def conversation_json(r: dict) -> list[dict]:
    """The record's LLaVA-CoT-100k `conversations`: the image before the first question."""
    turns = r["history"] + [(r["question"], r["answer"], r["conclusion"])]
    out = []
    for i, (q, a, _) in enumerate(turns):
        out.append({"from": "human", "value": ("<image>\n" if i == 0 else "") + q})
        out.append({"from": "gpt", "value": a})
    return out


def write_dataset(out: Path, seed: int, n: int, workers: int = 1, prefix: str = "", turns: int = 1) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    recs = generate(seed, n, workers, turns)
    lines = []
    for i, (jpg, r) in enumerate(recs):
        name = f"{prefix}s{seed}-{i:06d}"
        (out / "images" / f"{name}.jpg").write_bytes(jpg)
        lines.append(json.dumps(dict(
            id=name, image=f"images/{name}.jpg", conversations=conversation_json(r),
            question=r["question"], conclusion=r["conclusion"], kind=r["kind"])))
    path = out / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--turns", type=int, default=1, help="questions per conversation (the last one is scored)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    if a.turns < 1:
        raise SystemExit("--turns must be at least 1")
    p = write_dataset(a.out, a.seed, a.n, a.workers, turns=a.turns)
    print(f"wrote {a.n} examples to {p}")


if __name__ == "__main__":
    main()
