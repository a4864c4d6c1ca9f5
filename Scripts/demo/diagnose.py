#!/usr/bin/env python3
"""Where a trained demo model goes wrong: per held-out question, is its caption right, is its
reasoning right, and does it conclude right when handed the true caption (teacher-forced up to
</CAPTION>)? Separates seeing (the caption) from reasoning over what was seen.

Usage: python3 Scripts/demo/diagnose.py --weights DIR [--n 200] [--config medium] [--show 8]
"""
from __future__ import annotations

import argparse
import io
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scenes  # noqa: E402
from model import conclusion_of, greedy, normalise, prompt_layout  # noqa: E402
from verify import load  # noqa: E402

TRAIN_EVAL_SEED = 1000


def stage(text, name):
    m = re.search(rf"<{name}>(.*?)(</{name}>|$)", text, re.S)
    return m.group(1).strip() if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--config", default="medium")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--show", type=int, default=8)
    a = ap.parse_args()
    torch.set_num_threads(2)
    tok, m = load(a.weights, a.config)
    recs = scenes.generate(TRAIN_EVAL_SEED, a.n, 1)
    end = tok.ids["<|im_end|>"]
    per = defaultdict(lambda: defaultdict(int))
    shown = 0
    for s in range(0, len(recs), 50):
        chunk = recs[s:s + 50]
        ims = torch.from_numpy(np.stack([np.asarray(Image.open(io.BytesIO(j)).convert("RGB")) for j, _ in chunk]))
        prompts = [prompt_layout(tok, r["question"]) for _, r in chunk]
        free = greedy(m, tok, prompts, ims, max_new=300)
        # teacher-forced through the true caption
        forced_prefix = [r["answer"][:r["answer"].index("</CAPTION>") + len("</CAPTION>")] for _, r in chunk]
        forced = greedy(m, tok, [p + tok.encode(f) for p, f in zip(prompts, forced_prefix)], ims, max_new=250)
        for (_, r), g, f, fp in zip(chunk, free, forced, forced_prefix):
            text = tok.decode([t for t in g if t != end])
            ftext = fp + tok.decode([t for t in f if t != end])
            k = r["kind"]
            ok = normalise(conclusion_of(text)) == normalise(r["conclusion"])
            cap_ok = stage(text, "CAPTION") == stage(r["answer"], "CAPTION")
            rea_ok = stage(text, "REASONING") == stage(r["answer"], "REASONING")
            forced_ok = normalise(conclusion_of(ftext)) == normalise(r["conclusion"])
            forced_rea = stage(ftext, "REASONING") == stage(r["answer"], "REASONING")
            for key, v in (("n", 1), ("correct", ok), ("caption", cap_ok), ("reasoning", rea_ok),
                           ("forced_correct", forced_ok), ("forced_reasoning", forced_rea),
                           ("caption_ok_but_wrong", cap_ok and not ok)):
                per[k][key] += int(v)
                per["all"][key] += int(v)
            if not ok and shown < a.show:
                shown += 1
                print(f"--- {r['question']} expected {r['conclusion']!r}")
                print("  ref:", r["answer"].replace("\n", " "))
                print("  got:", text.replace("\n", " "))
                print("  forced:", ftext[len(fp):].replace("\n", " "))
    print(f"\n{'kind':<14}{'n':>4}{'correct':>9}{'caption':>9}{'reason':>8}{'forced':>8}{'f.reason':>9}{'cap ok, wrong':>15}")
    for k in sorted(per, key=lambda x: (x == "all", x)):
        v = per[k]
        n = v["n"]
        print(f"{k:<14}{n:>4}" + "".join(f"{100 * v[c] / n:>{w}.0f}%" for c, w in
                                         (("correct", 8), ("caption", 8), ("reasoning", 7), ("forced_correct", 7),
                                          ("forced_reasoning", 8), ("caption_ok_but_wrong", 14))))


if __name__ == "__main__":
    main()
