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
its position then its size, colour and shape; the reasoning picks the ones that matter and derives
the answer; the conclusion is one short word, number or letter.

Output (write_dataset): DIR/images/NAME.jpg and DIR/data.jsonl with LLaVA-CoT-100k records
  {"id", "image", "conversations": [{"from": "human", "value": "<image>\\nQ"}, {"from": "gpt", "value": A}],
   "question", "answer", "kind"}   (image paths relative to the jsonl file).
"""
from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 96
JPEG_QUALITY = 90
GRID = 3
CELL = SIZE / GRID

COLOURS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
    "yellow": (235, 205, 30), "purple": (150, 60, 190), "orange": (245, 140, 20),
}
SHAPES = ["circle", "square", "triangle", "diamond"]
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "diamond": "diamonds"}
SIZES = {"small": (12, 15), "large": (22, 27)}   # bounding-box side range in pixels
POSITIONS = [["top left", "top", "top right"], ["left", "center", "right"],
             ["bottom left", "bottom", "bottom right"]]
KINDS = ["count_both", "count_colour", "count_shape", "colour_of", "shape_of", "position", "where",
         "extreme", "exists", "arithmetic", "choice"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six"]


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


# ------------------------------------------------------------------ words

def pos_word(o):
    return POSITIONS[o["row"]][o["col"]]


def at(o):
    p = pos_word(o)
    return f"at the {p}"


def describe(o):
    # position first: the model names the cell, then what it sees there
    return f"{at(o)} a {o['size']} {o['colour']} {o['shape']}"


def caption(objs):
    return "The image shows " + "; ".join(describe(o) for o in objs) + "."


def name_of(o):
    return f"{o['colour']} {o['shape']}"


def list_positions(sel):
    ps = [pos_word(o) for o in sel]
    if len(ps) == 1:
        return "the " + ps[0]
    return ", ".join("the " + p for p in ps[:-1]) + " and the " + ps[-1]


def count_sentence(sel, what_plural, what_single):
    n = len(sel)
    if n == 0:
        return f"There are no {what_plural} in the list, so the count is 0."
    if n == 1:
        return f"There is one {what_single}, at {list_positions(sel)}, so the count is 1."
    return f"The {what_plural} are at {list_positions(sel)}. Counting them gives {n}."


def answer_text(summary, cap, reasoning, conclusion):
    return (f"<SUMMARY>{summary}</SUMMARY>\n\n<CAPTION>{cap}</CAPTION>\n\n"
            f"<REASONING>{reasoning}</REASONING>\n\n<CONCLUSION>{conclusion}</CONCLUSION>")


# ------------------------------------------------------------------ questions

def make_question(objs, kind, rng):
    """(question, summary, reasoning, conclusion) or None when the scene does not fit the kind."""
    colours = list(COLOURS)
    cap_c = lambda s: s[0].upper() + s[1:]  # noqa: E731
    if kind == "count_both":
        # half the time ask about a pair present in the scene
        if rng.random() < 0.7:
            o = objs[rng.integers(len(objs))]
            c, s = o["colour"], o["shape"]
        else:
            c, s = str(rng.choice(colours)), str(rng.choice(SHAPES))
        sel = [o for o in objs if o["colour"] == c and o["shape"] == s]
        q = f"How many {c} {PLURAL[s]} are there?"
        return (q, f"I will find the {c} {PLURAL[s]} in the image and count them.",
                count_sentence(sel, f"{c} {PLURAL[s]}", f"{c} {s}"), str(len(sel)))
    if kind == "count_colour":
        c = str(rng.choice([o["colour"] for o in objs])) if rng.random() < 0.8 else str(rng.choice(colours))
        sel = [o for o in objs if o["colour"] == c]
        q = f"How many {c} shapes are there?"
        return (q, f"I will find the {c} shapes in the image and count them.",
                count_sentence(sel, f"{c} shapes", f"{c} shape"), str(len(sel)))
    if kind == "count_shape":
        s = str(rng.choice([o["shape"] for o in objs])) if rng.random() < 0.8 else str(rng.choice(SHAPES))
        sel = [o for o in objs if o["shape"] == s]
        q = f"How many {PLURAL[s]} are there?"
        return (q, f"I will find the {PLURAL[s]} in the image and count them.",
                count_sentence(sel, PLURAL[s], s), str(len(sel)))
    if kind == "colour_of":
        uniq = [o for o in objs if sum(p["shape"] == o["shape"] for p in objs) == 1]
        if not uniq:
            return None
        o = uniq[rng.integers(len(uniq))]
        q = f"What colour is the {o['shape']}?"
        return (q, f"I will find the {o['shape']} in the image and name its colour.",
                f"There is one {o['shape']}, {at(o)}, and it is {o['colour']}.", o["colour"])
    if kind == "shape_of":
        uniq = [o for o in objs if sum(p["colour"] == o["colour"] for p in objs) == 1]
        if not uniq:
            return None
        o = uniq[rng.integers(len(uniq))]
        q = f"What shape is the {o['colour']} object?"
        return (q, f"I will find the {o['colour']} object in the image and name its shape.",
                f"There is one {o['colour']} object, {at(o)}, and it is a {o['shape']}.", o["shape"])
    uniq_both = [o for o in objs if sum(name_of(p) == name_of(o) for p in objs) == 1]
    if kind == "position":
        pairs = [(a, b) for a in uniq_both for b in uniq_both if a is not b]
        if not pairs:
            return None
        a, b = pairs[rng.integers(len(pairs))]
        axis = "col" if rng.random() < 0.5 else "row"
        if a[axis] == b[axis]:
            axis = "row" if axis == "col" else "col"
        if a[axis] == b[axis]:
            return None
        rel = str(rng.choice(["left of", "right of"] if axis == "col" else ["above", "below"]))
        q = (f"Is the {name_of(a)} to the {rel} the {name_of(b)}?" if rel in ("left of", "right of")
             else f"Is the {name_of(a)} {rel} the {name_of(b)}?")
        truth = {"left of": a["col"] < b["col"], "right of": a["col"] > b["col"],
                 "above": a["row"] < b["row"], "below": a["row"] > b["row"]}[rel]
        where = "column" if axis == "col" else "row"
        side = {"left of": ("further left", "further right"), "right of": ("further right", "further left"),
                "above": ("higher", "lower"), "below": ("lower", "higher")}[rel]
        r = (f"The {name_of(a)} is {at(a)} and the {name_of(b)} is {at(b)}. "
             f"The {name_of(a)} is {side[0] if truth else side[1]}, so it is "
             f"{'' if truth else 'not '}{rel} the {name_of(b)}.")
        return (q, f"I will locate the {name_of(a)} and the {name_of(b)} and compare their positions.",
                r, "yes" if truth else "no")
    if kind == "where":
        if not uniq_both:
            return None
        o = uniq_both[rng.integers(len(uniq_both))]
        q = f"Where is the {name_of(o)}?"
        return (q, f"I will find the {name_of(o)} and say where it is.",
                f"The {name_of(o)} is {at(o)} of the image.", pos_word(o))
    if kind == "extreme":
        which = str(rng.choice(["large", "small"]))
        if len(objs) < 2:
            return None
        o = objs[rng.integers(len(objs))]
        for p in objs:  # make o the only shape of its size (the scene is drawn after this)
            p["size"] = which if p is o else ("small" if which == "large" else "large")
            lo, hi = SIZES[p["size"]]
            p["side"] = int(rng.integers(lo, hi + 1))
        sup = "largest" if which == "large" else "smallest"
        attr = str(rng.choice(["colour", "shape"]))
        q = (f"What colour is the {sup} shape?" if attr == "colour" else f"What shape is the {sup} object?")
        others = "small" if which == "large" else "large"
        r = (f"Only one shape is {which}: the {name_of(o)} {at(o)}. All the others are {others}, "
             f"so the {sup} is the {name_of(o)}.")
        return (q, f"I will compare the sizes of the shapes and find the {sup} one.", r, o[attr])
    if kind == "exists":
        if rng.random() < 0.5:
            o = objs[rng.integers(len(objs))]
            c, s = o["colour"], o["shape"]
        else:
            c, s = str(rng.choice(colours)), str(rng.choice(SHAPES))
        sel = [o for o in objs if o["colour"] == c and o["shape"] == s]
        q = f"Is there a {c} {s}?"
        if sel:
            r = f"There is a {c} {s} {at(sel[0])}, so the answer is yes."
        else:
            r = f"None of the shapes is a {c} {s}, so the answer is no."
        return (q, f"I will look for a {c} {s} among the shapes.", r, "yes" if sel else "no")
    if kind == "arithmetic":
        if rng.random() < 0.5:
            s1, s2 = (str(x) for x in rng.choice(SHAPES, size=2, replace=False))
            n1 = sum(o["shape"] == s1 for o in objs)
            n2 = sum(o["shape"] == s2 for o in objs)
            q = f"How many {PLURAL[s1]} and {PLURAL[s2]} are there in total?"
            r = (f"There {'is' if n1 == 1 else 'are'} {n1} {s1 if n1 == 1 else PLURAL[s1]} and "
                 f"{n2} {s2 if n2 == 1 else PLURAL[s2]}. In total {n1} + {n2} = {n1 + n2}.")
            return (q, f"I will count the {PLURAL[s1]} and the {PLURAL[s2]} and add the counts.", r, str(n1 + n2))
        present = list(dict.fromkeys(o["colour"] for o in objs))
        c1 = str(rng.choice(present))
        c2 = str(rng.choice([c for c in colours if c != c1]))
        n1 = sum(o["colour"] == c1 for o in objs)
        n2 = sum(o["colour"] == c2 for o in objs)
        if n1 < n2:
            c1, c2, n1, n2 = c2, c1, n2, n1
        q = f"How many more {c1} shapes than {c2} shapes are there?"
        r = f"There {'is' if n1 == 1 else 'are'} {n1} {c1} and {n2} {c2}. The difference is {n1} - {n2} = {n1 - n2}."
        return (q, f"I will count the {c1} shapes and the {c2} shapes and subtract.", r, str(n1 - n2))
    if kind == "choice":
        uniq = [o for o in objs if sum(p["colour"] == o["colour"] for p in objs) == 1]
        if not uniq:
            return None
        o = uniq[rng.integers(len(uniq))]
        if rng.random() < 0.5:
            opts = [o["shape"]] + [str(x) for x in rng.choice([s for s in SHAPES if s != o["shape"]], 2, replace=False)]
            rng.shuffle(opts)
            letter = "ABC"[opts.index(o["shape"])]
            q = (f"What shape is the {o['colour']} object? Options: A. {opts[0]} B. {opts[1]} C. {opts[2]}. "
                 "Answer with the letter.")
            r = f"The {o['colour']} object {at(o)} is a {o['shape']}, which is option {letter}."
        else:
            uniq = [p for p in objs if sum(x["shape"] == p["shape"] for x in objs) == 1]
            if not uniq:
                return None
            o = uniq[rng.integers(len(uniq))]
            opts = [o["colour"]] + [str(x) for x in rng.choice([c for c in colours if c != o["colour"]], 2, replace=False)]
            rng.shuffle(opts)
            letter = "ABC"[opts.index(o["colour"])]
            q = (f"What colour is the {o['shape']}? Options: A. {opts[0]} B. {opts[1]} C. {opts[2]}. "
                 "Answer with the letter.")
            r = f"The {o['shape']} {at(o)} is {o['colour']}, which is option {letter}."
        return (q, "I will identify the object in question and match it to the options.", r, letter)
    raise ValueError(kind)


def make_example(rng: np.random.Generator, kind: str | None = None):
    """(objs, image, question, answer, conclusion, kind), retrying until a question fits."""
    while True:
        objs = make_scene(rng)
        k = kind or str(rng.choice(KINDS))
        got = make_question(objs, k, rng)
        if got is None:
            continue
        q, summary, reasoning, conclusion = got
        im = render(objs, rng)
        return objs, im, q, answer_text(summary, caption(objs), reasoning, conclusion), conclusion, k


def example_record(seed: int, index: int):
    """One example, a pure function of (seed, index): the JPEG bytes and the record fields."""
    rng = np.random.default_rng([seed, index])
    objs, im, q, a, c, k = make_example(rng)
    return jpeg_bytes(im), dict(question=q, answer=a, conclusion=c, kind=k)


def _worker(args):
    seed, lo, hi = args
    return [example_record(seed, i) for i in range(lo, hi)]


def generate(seed: int, n: int, workers: int = 1):
    chunks = [(seed, lo, min(n, lo + 500)) for lo in range(0, n, 500)]
    if workers > 1:
        from multiprocessing import Pool
        with Pool(workers) as pool:
            parts = pool.map(_worker, chunks)
    else:
        parts = [_worker(c) for c in chunks]
    return [r for p in parts for r in p]


def write_dataset(out: Path, seed: int, n: int, workers: int = 1, prefix: str = "") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    recs = generate(seed, n, workers)
    lines = []
    for i, (jpg, r) in enumerate(recs):
        name = f"{prefix}s{seed}-{i:06d}"
        (out / "images" / f"{name}.jpg").write_bytes(jpg)
        lines.append(json.dumps(dict(
            id=name, image=f"images/{name}.jpg",
            conversations=[dict(value="<image>\n" + r["question"], **{"from": "human"}),
                           dict(value=r["answer"], **{"from": "gpt"})],
            question=r["question"], conclusion=r["conclusion"], kind=r["kind"])))
    path = out / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    p = write_dataset(a.out, a.seed, a.n, a.workers)
    print(f"wrote {a.n} examples to {p}")


if __name__ == "__main__":
    main()
