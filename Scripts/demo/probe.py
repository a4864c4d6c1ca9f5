#!/usr/bin/env python3
"""Does a trained demo model read the question? Two probes on held-out questions (seed 1000):

1. Token identity through the layers: the mean cosine between each text position's residual
   and its own token embedding after every layer, with the residual norms of text and image rows.
   When the first layer's output dwarfs the embedding, later layers cannot tell which word sat
   at a question position.
2. Copying the question: teacher-forced up to the shape word of the summary ("I will find the
   ..."), is the next token the question's shape word, with the scene's image and with a blank
   one? And when the question's shape word is swapped, does the prediction follow?

Usage: python3 Scripts/demo/probe.py --weights DIR [--config medium] [--n 80]
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scenes  # noqa: E402
from model import prompt_layout  # noqa: E402
from verify import load  # noqa: E402

SHAPES = ["circle", "square", "triangle", "diamond"]


def identity(m, tok, jpg, question):
    im = torch.from_numpy(np.asarray(Image.open(io.BytesIO(jpg)).convert("RGB")).copy())[None]
    ids = prompt_layout(tok, question)
    with torch.no_grad():
        emb = m.embed(torch.tensor([ids]), im)
        out = m.llm(inputs_embeds=emb, output_hidden_states=True)
    text = torch.tensor(ids) >= 0
    rows = []
    for h in out.hidden_states:
        h = h[0]
        cos = F.cosine_similarity(h[text], emb[0][text], dim=-1).mean().item()
        rows.append((h[text].norm(dim=-1).mean().item(), h[~text].norm(dim=-1).mean().item(), cos))
    return rows


def next_word(m, tok, ids, im):
    with torch.no_grad():
        logits = m(torch.tensor([ids]), im[None])[0, -1]
    return tok.decode([int(logits.argmax())]).strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--config", default="medium")
    ap.add_argument("--n", type=int, default=80)
    a = ap.parse_args()
    torch.set_num_threads(2)
    tok, m = load(a.weights, a.config)
    recs = scenes.generate(1000, a.n, 1)
    layers = np.mean([identity(m, tok, j, r["question"]) for j, r in recs[:20]], axis=0)
    print("after layer  text norm  image norm  cos(text row, its embedding)")
    for i, (tn, im_n, cos) in enumerate(layers):
        print(f"{i:>11}  {tn:>9.1f}  {im_n:>10.1f}  {cos:>8.2f}")
    ims = [torch.from_numpy(np.asarray(Image.open(io.BytesIO(j)).convert("RGB")).copy()) for j, _ in recs]
    blank = torch.full_like(ims[0], 225)
    hits = dict(image=0, blank=0, swapped=0)
    total = 0
    for (_, r), im in zip(recs, ims):
        q = r["question"]
        found = [w for w in SHAPES if w in q]
        summary = r["answer"].split("</SUMMARY>")[0]
        if not found or found[0] not in summary:
            continue
        w = found[0]
        alt = next(x for x in SHAPES if x != w)
        prefix = tok.encode(summary[:summary.index(w)].rstrip())
        total += 1
        hits["image"] += next_word(m, tok, prompt_layout(tok, q) + prefix, im).startswith(w[:4])
        hits["blank"] += next_word(m, tok, prompt_layout(tok, q) + prefix, blank).startswith(w[:4])
        hits["swapped"] += next_word(m, tok, prompt_layout(tok, q.replace(w, alt)) + prefix, im).startswith(alt[:4])
    print(f"summary copies the question's shape word ({total} questions): with the image {hits['image']}, "
          f"with a blank image {hits['blank']}, after swapping the word in the question {hits['swapped']}")


if __name__ == "__main__":
    main()
