#!/usr/bin/env python3
"""Quantize a GGUF model with both `ponder quantize` and llama.cpp's `llama_model_quantize`
(llama-cpp-python, built from source) and compare them tensor by tensor: type, shape and
data bytes, plus the metadata. Prints timings of both.

Usage:  python3 Scripts/compare_quantize.py MODEL.gguf --type Q4_K_M [--ponder .build/release/ponder]
        [--threads 2] [--keep DIR]
Exit status 0 when every tensor is byte-identical.
"""
from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gguf

FTYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "BF16": 32}


def llama_quantize(src: Path, dst: Path, ftype: int, threads: int) -> float:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    params.allow_requantize = True
    start = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed with {rc}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("--type", required=True, choices=sorted(FTYPES))
    parser.add_argument("--ponder", default=".build/release/ponder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        ours, theirs = folder / f"ponder-{args.type}.gguf", folder / f"llama-{args.type}.gguf"
        start = time.perf_counter()
        subprocess.run([args.ponder, "quantize", str(args.model), str(ours), "--type", args.type,
                        "--threads", str(args.threads)], check=True)
        ponder_seconds = time.perf_counter() - start
        llama_seconds = llama_quantize(args.model, theirs, FTYPES[args.type], args.threads)

        a, b = gguf.GGUFReader(str(ours)), gguf.GGUFReader(str(theirs))
        ta = {t.name: t for t in a.tensors}
        tb = {t.name: t for t in b.tensors}
        bad = 0
        if set(ta) != set(tb):
            print(f"tensor names differ: only ponder {sorted(set(ta) - set(tb))}, only llama.cpp {sorted(set(tb) - set(ta))}")
            bad += 1
        for name in sorted(set(ta) & set(tb)):
            x, y = ta[name], tb[name]
            if x.tensor_type != y.tensor_type or list(x.shape) != list(y.shape):
                print(f"{name}: ponder {x.tensor_type.name} {list(x.shape)}, llama.cpp {y.tensor_type.name} {list(y.shape)}")
                bad += 1
            elif x.data.tobytes() != y.data.tobytes():
                print(f"{name}: {x.tensor_type.name} bytes differ")
                bad += 1
        for key in sorted(set(a.fields) | set(b.fields)):
            if key.startswith("GGUF."):
                continue
            fa, fb = a.fields.get(key), b.fields.get(key)
            va = None if fa is None else fa.contents()
            vb = None if fb is None else fb.contents()
            if va != vb:
                print(f"metadata {key}: ponder {str(va)[:60]}, llama.cpp {str(vb)[:60]}")
        size = args.model.stat().st_size
        print(f"{args.type}: {len(ta)} tensors, {bad} differ; ponder {ponder_seconds:.1f} s "
              f"({size / 1e6 / ponder_seconds:.0f} MB/s of input), llama.cpp {llama_seconds:.1f} s "
              f"({size / 1e6 / llama_seconds:.0f} MB/s)")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
