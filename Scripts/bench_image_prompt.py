#!/usr/bin/env python3
"""The prompt with the image: Ponder vs llama.cpp (libmtmd) tokens/s, same GGUFs and threads.

What a VLM user waits for after the image is encoded is the text model reading the prompt:
the image's rows plus the text. This times exactly that, on each family's own text model, so
that the family's masks and positions run (Gemma 3: the image span attends both ways;
Qwen2.5-VL: M-RoPE, text positions continuing from the image's largest):

  gemma3    Bench_engine's Gemma-3-1B-shaped random text model (--arch gemma3) with a Gemma 3
            projector (SigLIP at 896, 4x4 pooling to 256 rows, output width 1152); a 640x480
            image: 256 image rows.
  gemma3-4b The same with Gemma-3-4B's text model (bench_engine --arch gemma3-4b: width 2560,
            34 layers, 8/4 heads of 256, sliding window 1024; 8.5 GB in F16).
  qwen25vl  Qwen2.5-VL-3B's text model shape (bench_engine --arch qwen2vl: width 2048, 36
            layers, 16/2 heads, ff 11008) with a qwen2.5vl_merger projector of Qwen2.5-VL-3B's
            geometry; a 640x480 image, smart-resized to 644x476: 391 image rows.

The towers are cut to one encoder layer (Qwen: 8, its window pattern's one full-attention
block): the rows they hand the text model do not depend on the tower's depth, and encoding is not timed here (Scripts/bench_vision.py times it on full towers).

Each round, alternating:
  * Ponder: `ponder bench --model TEXT --mmproj P --image I -p T -n 0 --repeat INNER --json`,
    whose img{rows}+pp{T} test prefills the image's rows and T random tokens in one batch;
  * llama.cpp: the image encoded once with mtmd_encode_chunk (untimed), then, timed,
    mtmd_helper_decode_image_chunk (the rows, with mtmd's non-causal span or M-RoPE positions)
    and llama_decode of T random tokens after them, on bench_engine's context settings;
    INNER runs, best taken.
Tokens/s counts every position (rows + T); the ratio is Ponder / llama.cpp (above 1: Ponder
faster). The issue's floor: ratio >= 1.0.

Usage:
  swift build -c release --product ponder && python3 Scripts/bench_image_prompt.py
      [--threads 2] [--repeat 3] [--inner 2] [--types q4_k_m,f16] [--text-tokens 32]
      [--shapes gemma3,qwen25vl] [--ponder .build/release/ponder] [--json]
Needs: numpy, gguf, llama-cpp-python 0.3.36 (built from source, with libmtmd). The text
models are written once under .build-bench/models (the Qwen one is 6 GB in F16), the towers
under .build-bench/vision.
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # noqa: E402  (random text models, llama.cpp context)
import bench_vision as bv  # noqa: E402  (projector files, libmtmd wrapper)
import make_vision_fixtures as mvf  # noqa: E402

SHAPES = {
    "gemma3": dict(arch="gemma3", tower="gemma3", layers=1, text=dict(n_embd=1152, n_head=4, n_head_kv=1), rows=256),
    "gemma3-4b": dict(arch="gemma3-4b", tower="gemma3", layers=1, text=dict(n_embd=2560, n_head=8, n_head_kv=4), rows=256),
    # 8 blocks: the window-attention pattern's one full-attention block
    "qwen25vl": dict(arch="qwen2vl", tower="qwen25vl", layers=8, text=dict(n_embd=2048, n_head=16, n_head_kv=2),
                     rows=391),
}


def tower_shape(name: str) -> dict:
    base = bv.SHAPES[SHAPES[name]["tower"]]
    layers = SHAPES[name]["layers"]
    return dict(base, cfg=dict(base["cfg"], n_layer=layers), text=SHAPES[name]["text"],
                label=f"{base['label']}, {layers} encoder layer(s)")


def ponder_tokens_per_second(ponder, text, paths, threads, tokens, inner):
    cmd = [ponder, "bench", "--model", str(text), "--mmproj", str(paths["mmproj"]), "--image", str(paths["image"]),
           "-p", str(tokens), "-n", "0", "--repeat", str(inner), "--threads", str(threads), "--no-bandwidth", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"ponder bench failed ({' '.join(cmd)}):\n{out.stderr.strip()}")
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            if r.get("test", "").startswith("img"):
                return float(r["tokens_per_second"]), r["test"]
    raise SystemExit(f"ponder bench printed no image-prompt measurement:\n{out.stdout}")


class LlamaImagePrompt:
    """bench_engine's llama.cpp context with a libmtmd context on its model and the image
    encoded once."""

    def __init__(self, text, mmproj, rgb, threads, tokens):
        from llama_cpp import mtmd_cpp as M
        self.M = M
        self.lc = be.LlamaCpp(text, threads, n_ctx=2048, n_seq=1)
        self.mt = bv.MtmdBench(mmproj, self.lc, threads)
        self.chunks = self.mt.tokenize(dict(text=mvf.MEDIA_MARKER, add_special=False, parse_special=True), rgb)
        images = [c for c in self.mt.chunk_list(self.chunks)
                  if M.mtmd_input_chunk_get_type(c) == M.MTMD_INPUT_CHUNK_TYPE_IMAGE]
        if len(images) != 1:
            raise SystemExit(f"libmtmd made {len(images)} image chunks, expected 1")
        self.chunk = images[0]
        self.rows = int(M.mtmd_input_chunk_get_n_tokens(self.chunk))
        if M.mtmd_encode_chunk(self.mt.ctx, self.chunk) != 0:
            raise SystemExit("mtmd_encode_chunk failed")
        self.embd = M.mtmd_get_output_embd(self.mt.ctx)
        self.tokens = tokens

    def run(self):
        """Tokens/s of one prefill: the image's rows, then the text tokens."""
        self.lc.clear()
        n_past = ctypes.c_int(0)
        start = time.perf_counter()
        decode = self.M.mtmd_helper_decode_image_chunk
        no_callback = decode.argtypes[8]()   # a NULL post-decode callback
        rc = decode(self.mt.ctx, self.lc.ctx, self.chunk, self.embd, 0, 0, 512, ctypes.byref(n_past), no_callback, None)
        if rc != 0:
            raise SystemExit(f"mtmd_helper_decode_image_chunk returned {rc}")
        if self.tokens:
            self.lc.prefill(self.tokens, start=n_past.value)
        return (self.rows + self.tokens) / (time.perf_counter() - start)

    def close(self):
        self.mt.free_chunks(self.chunks)
        self.mt.close()


def measure(args):
    rows = []
    bv.init_llama_cpp()
    for name in [s for s in args.shapes.split(",") if s]:
        if name not in SHAPES:
            raise SystemExit(f"unknown shape {name!r}; known: {', '.join(SHAPES)}")
        shape = tower_shape(name)
        paths = bv.ensure_files(Path(args.dir), name + "-prompt", shape)
        rgb = bv.load_rgb(paths, shape)
        models = be.ensure_models(args.models_dir, args.types.split(","), args.threads, SHAPES[name]["arch"])
        for wtype, text in models.items():
            lc = LlamaImagePrompt(text, paths["mmproj"], rgb, args.threads, args.text_tokens)
            if lc.rows != SHAPES[name]["rows"]:
                raise SystemExit(f"[{name}] libmtmd made {lc.rows} image rows, expected {SHAPES[name]['rows']}")
            po_best, lc_best, test = 0.0, 0.0, None
            for r in range(args.repeat):
                po, test = ponder_tokens_per_second(args.ponder, text, paths, args.threads, args.text_tokens, args.inner)
                lcs = [lc.run() for _ in range(args.inner)]
                po_best, lc_best = max(po_best, po), max(lc_best, max(lcs))
                bv.log(f"[{name} {wtype}] round {r + 1}/{args.repeat}: ponder {po:.1f} t/s, llama.cpp "
                       f"{max(lcs):.1f} t/s ({test})")
            lc.close()
            expected = f"img{SHAPES[name]['rows']}+pp{args.text_tokens}"
            if test != expected:
                raise SystemExit(f"[{name}] Ponder ran {test}, expected {expected}: its image rows differ from libmtmd's")
            rows.append(dict(shape=name, type=wtype, test=test, threads=args.threads, repeat=args.repeat,
                             inner=args.inner, ponder_tokens_per_second=po_best, llama_cpp_tokens_per_second=lc_best,
                             ratio=po_best / lc_best, model=str(text), mmproj=str(paths["mmproj"])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="alternating rounds (Ponder, llama.cpp)")
    ap.add_argument("--inner", type=int, default=2, help="runs per side per round (best taken)")
    ap.add_argument("--types", default="q4_k_m", help="text model types, of " + ",".join(be.FTYPES))
    ap.add_argument("--text-tokens", type=int, default=32, help="random text tokens after the image")
    ap.add_argument("--shapes", default="gemma3,qwen25vl", help=f"comma-separated, of {','.join(SHAPES)}")
    ap.add_argument("--ponder", default=".build/release/ponder")
    ap.add_argument("--dir", default=".build-bench/vision", help="cache of the projectors and images")
    ap.add_argument("--models-dir", default=".build-bench/models", help="cache of the text models")
    ap.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    args = ap.parse_args()
    if args.repeat < 1 or args.inner < 1 or args.threads < 1 or args.text_tokens < 0:
        raise SystemExit("--repeat, --inner and --threads must be at least 1, --text-tokens at least 0")
    if not os.access(args.ponder, os.X_OK):
        raise SystemExit(f"no Ponder executable at {args.ponder} (swift build -c release --product ponder)")
    rows = measure(args)
    out = sys.stderr if args.json else sys.stdout
    print(f"\nThe prompt with the image (rows + text tokens in one prefill, best of {args.repeat} rounds x "
          f"{args.inner} runs), {args.threads} threads:", file=out)
    print(f"{'shape':<10}{'type':<8}{'test':<16}{'llama.cpp t/s':>15}{'ponder t/s':>12}{'ratio':>7}", file=out)
    for r in rows:
        print(f"{r['shape']:<10}{r['type']:<8}{r['test']:<16}{r['llama_cpp_tokens_per_second']:>15.1f}"
              f"{r['ponder_tokens_per_second']:>12.1f}{r['ratio']:>7.2f}", file=out)
    print("ratio = ponder / llama.cpp tokens/s (above 1: Ponder faster; the floor is 1.0).", file=out)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
