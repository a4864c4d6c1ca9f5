#!/usr/bin/env python3
"""The reverse of export.py: read the shipped GGUF pair back into train.py's output layout
(DIR/vision.pt, DIR/text.pt as fp16 state dicts, DIR/tokenizer.json), so that experiments
(`train.py --init DIR`, diagnose.py, sample.py) can start from the bundled model without
retraining it. The values are the GGUF's bit for bit (export.py wrote fp16 weights and f32
copies of fp16 1-D tensors); attn_q/attn_k rows are un-permuted back to HF's rotate-half order.

Usage: python3 Scripts/demo/import_gguf.py --out DIR [--from Models/demo]
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import gguf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import MMPROJ_NAME, TEXT_NAME, text_tensors, vision_tensors  # noqa: E402
from model import CONFIGS  # noqa: E402
from train import SETTINGS  # noqa: E402


def unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """export.permute's inverse: llama.cpp adjacent pairs -> HF rotate-half rows."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def read(path: Path) -> dict[str, np.ndarray]:
    r = gguf.GGUFReader(str(path))
    out = {}
    for t in r.tensors:
        shape = tuple(int(x) for x in reversed(t.shape))  # GGUF lists ne0 first
        out[t.name] = np.array(t.data).reshape(shape)
    return out


def invert(names: dict[str, str], stored: dict[str, np.ndarray], unperm: dict[str, int]) -> dict[str, torch.Tensor]:
    sd = {}
    for gname, hname in names.items():
        a = stored[gname]
        if gname in unperm:
            a = unpermute(a, unperm[gname])
        sd[hname] = torch.from_numpy(np.ascontiguousarray(a).astype(np.float16))
    return sd


def name_map(mapper, shapes: dict[str, torch.Size], cfg: dict) -> dict[str, str]:
    """GGUF name -> HF name, found by running export's own mapping on tensors filled with their
    index (so the two scripts cannot disagree on a name)."""
    keys = list(shapes)
    tagged = mapper({k: torch.full(shapes[k], float(i)) for i, k in enumerate(keys)}, cfg)
    return {g: keys[int(np.asarray(v).flat[0])] for g, v in tagged.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--from", dest="src", type=Path, default=Path(__file__).resolve().parents[2] / "Models" / "demo")
    ap.add_argument("--config", default=SETTINGS["config"])
    a = ap.parse_args()
    vision, text = CONFIGS[a.config]
    from model import DemoVLM
    m = DemoVLM(vision, text)
    vmap = name_map(vision_tensors, {k: v.shape for k, v in m.state_dict().items() if not k.startswith("llm.")}, vision)
    tmap = name_map(text_tensors, {k: v.shape for k, v in m.llm.state_dict().items()}, text)
    unperm = {f"blk.{i}.attn_q.weight": text["heads"] for i in range(text["layers"])}
    unperm.update({f"blk.{i}.attn_k.weight": text["kv_heads"] for i in range(text["layers"])})
    a.out.mkdir(parents=True, exist_ok=True)
    torch.save(invert(vmap, read(a.src / MMPROJ_NAME), {}), a.out / "vision.pt")
    torch.save(invert(tmap, read(a.src / TEXT_NAME), unperm), a.out / "text.pt")
    shutil.copy(a.src / "tokenizer.json", a.out / "tokenizer.json")
    print(f"{a.out}: vision.pt ({len(vmap)} tensors), text.pt ({len(tmap)} tensors), tokenizer.json")


if __name__ == "__main__":
    main()
