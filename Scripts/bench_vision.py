#!/usr/bin/env python3
"""Image encoding speed: Ponder vs llama.cpp (libmtmd) on the same mmproj GGUF and thread count.

Builds (once, cached under .build-bench/vision/) random-weight vision projector (`mmproj`,
general.architecture = clip) files shaped like real ones, F16 matrices and F32 norms/biases
(SmolVLM's patch and position embeddings F32, as its converter writes them),
each with a tiny llama text model of the matching width (the projector's output must match
the text model's n_embd for mtmd to load it) and a deterministic synthetic test image:

  smolvlm   SmolVLM-256M-like: projector idefics3, SigLIP-B/16 at 512 (embd 768, 12 layers,
            12 heads, ff 3072, scale factor 4, preproc_image_size 512), output width 576;
            a 512x512 image, i.e. one tile plus the overview: 2 encodes per image.
  gemma3    Gemma-3-4B-like: projector gemma3, SigLIP at 896 (embd 1152, 27 layers, 16 heads,
            ff 4304, patch 14), 4x4 pooling to 256 tokens, text width 2560; a 640x480 image
            stretched to 896x896: 1 encode (not in the default --shapes: about a minute a side).
  qwen25vl  Qwen2.5-VL-3B-like: projector qwen2.5vl_merger (embd 1280, 32 blocks, 16 heads, ff
            3420 SwiGLU, window attention with a full block every 8, 2x2 merger to 2048); a
            640x480 image, smart-resized to 644x476: 391 tokens, 1 encode.
  llava     LLaVA-1.5-like: projector mlp, CLIP ViT-L/14 at 336 (embd 1024, 24 layers stored,
            16 heads, ff 4096, class token, pre_ln, GELU-quick), mm.0 1024->4096,
            mm.2 4096->4096; clip.vision.feature_layer [23] (HF's vision_feature_layer -2, as
            llama.cpp's converter writes LLaVA-1.5), so both sides run 23 layers; a 640x480
            image (letterboxed to 336x336): 1 encode.

Then, per shape, it alternates `--repeat` rounds of
  * Ponder: `ponder bench --model TEXT --mmproj P --image I -p 0 -n 0 --repeat INNER --json`,
    which reports the best of INNER runs of preprocessing + encoding of the decoded image;
  * llama.cpp: mtmd_tokenize (which preprocesses: resizes, tiles, normalizes) plus
    mtmd_encode_chunk on every image chunk (each tile and the overview for idefics3), in the
    Python process through llama-cpp-python's ctypes bindings (llama_cpp.mtmd_cpp), CPU only,
    flash attention off, no warmup; best of INNER runs. Loading the model is not timed.
and prints the best times, seconds per encode, the ratio Ponder / llama.cpp (below 1: Ponder
is faster) and GFLOP/s (the matmul and attention FLOPs of the graph each side runs: llama.cpp's
graph and Ponder both stop at the deepest feature layer).

INNER (--inner, default 2) runs inside each round let both sides warm up (first-touch of the
weights, scratch buffers) without a separate warmup pass; each side's figure is the best of
repeat x inner runs.

Usage:
  swift build -c release --product ponder && python3 Scripts/bench_vision.py [--threads 2]
      [--repeat 3] [--inner 2] [--shapes smolvlm,llava] [--ponder .build/release/ponder] [--json]

With --json, stdout carries one JSON array (a row per shape) and the table goes to stderr.
Progress goes to stderr.
Needs: numpy, gguf, llama-cpp-python (built from source, with libmtmd).
"""
import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_model_fixtures as mmf  # noqa: E402  (text weights, GGUF writer, llama.cpp text model)
import make_vision_fixtures as mvf  # noqa: E402  (mmproj weights and writer, images, libmtmd wrapper)

SEED = 20250301

SHAPES = {
    "smolvlm": dict(
        label="SmolVLM-256M-like",
        cfg=dict(projector_type="idefics3", image_size=512, patch_size=16, n_embd=768, n_head=12, n_ff=3072,
                 n_layer=12, eps=1e-6, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], activation="gelu",
                 class_token=False, pre_ln=False, post_ln=True, patch_bias=True, scale_factor=4,
                 preproc_image_size=512),
        text=dict(n_embd=576, n_head=9, n_head_kv=3),
        image=(512, 512),
        encodes=2,  # one tile + the overview
        # as convert_hf_to_gguf.py writes SmolVLM (tensor_force_quant: ".embeddings." -> F32);
        # llama.cpp's SigLIP graph adds the position table directly, which ggml needs in F32
        f32=("v.patch_embd.weight", "v.position_embd.weight"),
    ),
    "gemma3": dict(
        label="Gemma-3-4B-like",
        cfg=dict(projector_type="gemma3", image_size=896, patch_size=14, n_embd=1152, n_head=16, n_ff=4304,
                 n_layer=27, eps=1e-6, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], activation="gelu",
                 class_token=False, pre_ln=False, post_ln=True, patch_bias=True, scale_factor=4),
        text=dict(n_embd=2560, n_head=20, n_head_kv=4),
        image=(640, 480),
        encodes=1,
        # as convert_hf_to_gguf.py writes Gemma 3's mmproj (".embeddings." -> F32)
        f32=("v.patch_embd.weight", "v.position_embd.weight"),
    ),
    "qwen25vl": dict(
        label="Qwen2.5-VL-3B-like",
        cfg=dict(projector_type="qwen2.5vl_merger", image_size=560, patch_size=14, n_embd=1280, n_head=16, n_ff=3420,
                 n_layer=32, eps=1e-6, mean=mvf.CLIP_MEAN, std=mvf.CLIP_STD, activation="silu",
                 class_token=False, pre_ln=False, post_ln=True, patch_bias=False, n_wa_pattern=8),
        text=dict(n_embd=2048, n_head=16, n_head_kv=2),
        image=(640, 480),   # smart resize: 644x476 -> 46x34 patches, 23x17 = 391 tokens
        encodes=1,
        patches=46 * 34,
    ),
    "llava": dict(
        label="LLaVA-1.5-like",
        cfg=dict(projector_type="mlp", image_size=336, patch_size=14, n_embd=1024, n_head=16, n_ff=4096,
                 n_layer=24, eps=1e-5, mean=mvf.CLIP_MEAN, std=mvf.CLIP_STD, activation="gelu_quick",
                 class_token=True, pre_ln=True, post_ln=False, patch_bias=False, feature_layer=[23]),
        text=dict(n_embd=4096, n_head=32, n_head_kv=8),
        image=(640, 480),
        encodes=1,
    ),
}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- files

def text_fx(shape: dict) -> dict:
    """A tiny llama text model (1 layer, make_model_fixtures' 320-token vocabulary with the
    idefics3 specials) whose only real requirement is n_embd = the projector's output."""
    t = shape["text"]
    return dict(name="bench-text", arch="llama", type="F16", n_embd=t["n_embd"], n_layer=1, n_head=t["n_head"],
                n_head_kv=t["n_head_kv"], n_ff=64, tied=True, rope_base=10000.0)


def ensure_files(directory: Path, name: str, shape: dict) -> dict:
    """Writes (unless cached) the mmproj, text model and image of a shape; file names carry a
    hash of everything that defines them, so a changed shape is rebuilt, not reused."""
    directory.mkdir(parents=True, exist_ok=True)
    fx = text_fx(shape)
    key = json.dumps(dict(cfg=shape["cfg"], text=fx, image=shape["image"], f32=shape.get("f32", ()),
                          seed=SEED, v=1), sort_keys=True)
    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
    paths = dict(mmproj=directory / f"{name}-{tag}.mmproj-f16.gguf", text=directory / f"{name}-{tag}.text-f16.gguf",
                 image=directory / f"{name}-{tag}.{shape['image'][0]}x{shape['image'][1]}.png",
                 rgb=directory / f"{name}-{tag}.{shape['image'][0]}x{shape['image'][1]}.rgb")
    n_embd_text = fx["n_embd"]

    if not paths["text"].exists():
        log(f"[{name}] writing {paths['text']} (random weights, n_embd {n_embd_text}) ...")
        weights = mmf.make_weights(fx, np.random.default_rng([SEED, 0]))
        tmp = paths["text"].with_suffix(".tmp")
        mmf.write_gguf(tmp, fx, mvf.stored(weights, "F16"), mvf.text_vocabulary(), "F16")
        os.replace(tmp, paths["text"])

    if not paths["mmproj"].exists():
        log(f"[{name}] writing {paths['mmproj']} (random weights, F16) ...")
        weights = mvf.vision_weights(shape["cfg"], np.random.default_rng([SEED, 1]), n_embd_text)
        tensors = mvf.stored(weights, "F16")
        for k in shape.get("f32", ()):
            tensors[k] = (weights[k], mvf.T.F32)
        del weights
        proj = dict(name=f"bench-{name}", cfg=shape["cfg"], type="F16")
        tmp = paths["mmproj"].with_suffix(".tmp")
        mvf.write_mmproj(tmp, proj, tensors, n_embd_text)
        os.replace(tmp, paths["mmproj"])

    if not (paths["image"].exists() and paths["rgb"].exists()):
        w, h = shape["image"]
        log(f"[{name}] writing {paths['image']} ...")
        rgb = mvf.make_image(name, w, h, np.random.default_rng([SEED, 2]))
        mvf.write_png(paths["image"], rgb)
        paths["rgb"].write_bytes(rgb.tobytes())
    return paths


def load_rgb(paths: dict, shape: dict) -> np.ndarray:
    w, h = shape["image"]
    return np.frombuffer(paths["rgb"].read_bytes(), dtype=np.uint8).reshape(h, w, 3)


def layers_run(cfg: dict) -> tuple[int, int]:
    """Encoder layers (llama.cpp, Ponder) run per encode: both stop at the deepest
    clip.vision.feature_layer; without one, llama.cpp's mlp graph drops the last layer."""
    if cfg.get("feature_layer"):
        return max(cfg["feature_layer"]), max(cfg["feature_layer"])
    n = cfg["n_layer"]
    return (n - 1 if cfg["projector_type"] == "mlp" else n), n


def gflop_per_image(shape: dict, n_layer_run: int) -> float:
    """Matmul + attention FLOPs (2 per multiply-add) of one image, all encodes: patch
    embedding, every block's q/k/v/out and ffn, QK^T and AV, and the projector."""
    c = shape["cfg"]
    d, ff, p = c["n_embd"], c["n_ff"], c["patch_size"]
    patches = shape.get("patches", (c["image_size"] // p) ** 2)
    n = patches + (1 if c["class_token"] else 0)
    out = shape["text"]["n_embd"]
    flops = 2 * patches * 3 * p * p * d
    flops += n_layer_run * (2 * n * (4 * d * d + 2 * d * ff) + 2 * 2 * n * n * d)
    if c["projector_type"] == "qwen2.5vl_merger":
        # SwiGLU (three ff matrices), windowed attention counted as full (an upper bound).
        flops += n_layer_run * 2 * n * d * ff
        flops += 2 * (patches // 4) * (4 * d * 4 * d + 4 * d * out)
    elif c["projector_type"] == "mlp":
        flops += 2 * patches * (d * out + out * out)
    elif c["projector_type"] == "gemma3":
        flops += 2 * (patches // (c["scale_factor"] ** 2)) * d * out
    else:
        s = c["scale_factor"]
        flops += 2 * (patches // (s * s)) * (d * s * s) * out
    return flops * shape["encodes"] / 1e9


# ---------------------------------------------------------------------------------- llama.cpp

class MtmdBench(mvf.Mtmd):
    """make_vision_fixtures' libmtmd wrapper (tokenize, chunk_list, ...) with benchmark
    settings: `threads` threads and no cb_eval hook (the capture hook makes ggml's scheduler
    call back into Python for every graph node). CPU, flash attention off, no warmup."""

    def __init__(self, mmproj: Path, text: "mmf.LlamaRun", threads: int):
        import llama_cpp
        from llama_cpp import mtmd_cpp as M
        self.M, self.L, self.text = M, llama_cpp, text
        p = M.mtmd_context_params_default()
        p.use_gpu = False
        p.print_timings = False
        p.n_threads = threads
        p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        p.warmup = False
        self.ctx = M.mtmd_init_from_file(str(mmproj).encode(), text.model, p)
        if not self.ctx:
            raise SystemExit(f"mtmd could not load {mmproj}:\n" + "".join(mmf._LOG_LINES[-20:]))
        self.vocab = llama_cpp.llama_model_get_vocab(text.model)
        self.n_embd = llama_cpp.llama_model_n_embd(text.model)

    def time_image(self, rgb: np.ndarray) -> dict:
        """Seconds to tokenize (preprocess) the image alone and encode every image chunk."""
        M = self.M
        prompt = dict(text=mvf.MEDIA_MARKER, add_special=False, parse_special=True)
        start = time.perf_counter()
        chunks = self.tokenize(prompt, rgb)
        tokenized = time.perf_counter()
        encodes, tokens = 0, 0
        for chunk in self.chunk_list(chunks):
            if M.mtmd_input_chunk_get_type(chunk) != M.MTMD_INPUT_CHUNK_TYPE_IMAGE:
                continue
            rc = M.mtmd_encode_chunk(self.ctx, chunk)
            if rc != 0:
                raise SystemExit(f"mtmd_encode_chunk returned {rc}")
            encodes += 1
            tokens += int(M.mtmd_input_chunk_get_n_tokens(chunk))
        end = time.perf_counter()
        self.free_chunks(chunks)
        return dict(seconds=end - start, preprocess=tokenized - start, encodes=encodes, tokens=tokens)


# ---------------------------------------------------------------------------------- Ponder

def ponder_image_seconds(ponder: str, paths: dict, threads: int, inner: int) -> float:
    cmd = [ponder, "bench", "--model", str(paths["text"]), "--mmproj", str(paths["mmproj"]),
           "--image", str(paths["image"]), "-p", "0", "-n", "0", "--repeat", str(inner),
           "--threads", str(threads), "--no-bandwidth", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"ponder bench failed ({' '.join(cmd)}):\n{out.stderr.strip()}")
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            if r.get("test") == "image":
                return float(r["seconds"])
    raise SystemExit(f"ponder bench printed no image measurement:\n{out.stdout}")


# ---------------------------------------------------------------------------------- main

def init_llama_cpp():
    """llama.cpp's backend, with its and libmtmd's log captured (make_model_fixtures' logger)
    instead of printed."""
    import llama_cpp
    from llama_cpp import mtmd_cpp
    llama_cpp.llama_backend_init()
    mmf._install_logger()  # llama.cpp's log into mmf._LOG_LINES instead of stderr
    mtmd_cpp.mtmd_log_set(mmf._install_logger.keep, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(mmf._install_logger.keep, ctypes.c_void_p(0))
    return llama_cpp


def measure(names, threads=2, repeat=3, inner=2, ponder=".build/release/ponder",
            directory=Path(".build-bench/vision")) -> list:
    """Alternating Ponder / llama.cpp rounds for each shape in `names`; one row (a dict) per
    shape. Builds the shape's files first when they are not cached in `directory`."""
    for s in names:
        if s not in SHAPES:
            raise SystemExit(f"unknown shape {s!r}; known: {', '.join(SHAPES)}")
    if repeat < 1 or inner < 1 or threads < 1:
        raise SystemExit("--repeat, --inner and --threads must be at least 1")
    if not os.access(ponder, os.X_OK):
        raise SystemExit(f"no Ponder executable at {ponder} (swift build -c release --product ponder)")
    llama_cpp = init_llama_cpp()
    rows = []
    for name in names:
        shape = SHAPES[name]
        paths = ensure_files(Path(directory), name, shape)
        rgb = load_rgb(paths, shape)
        text = mmf.LlamaRun(paths["text"])
        mt = MtmdBench(paths["mmproj"], text, threads)
        lc_best, lc_pre, po_best, info = float("inf"), float("inf"), float("inf"), None
        for r in range(repeat):
            po = ponder_image_seconds(ponder, paths, threads, inner)
            po_best = min(po_best, po)
            lcs = [mt.time_image(rgb) for _ in range(inner)]
            info = lcs[0]
            if info["encodes"] != shape["encodes"]:
                raise SystemExit(f"[{name}] llama.cpp made {info['encodes']} image chunks, expected {shape['encodes']}")
            lc = min(x["seconds"] for x in lcs)
            lc_best = min(lc_best, lc)
            lc_pre = min(lc_pre, min(x["preprocess"] for x in lcs))
            log(f"[{name}] round {r + 1}/{repeat}: ponder {po:.3f} s, llama.cpp {lc:.3f} s "
                f"(runs: {', '.join('%.3f' % x['seconds'] for x in lcs)})")
        mt.close()
        text.close()
        lc_layers, po_layers = layers_run(shape["cfg"])
        lc_gflop, po_gflop = gflop_per_image(shape, lc_layers), gflop_per_image(shape, po_layers)
        w, h = shape["image"]
        rows.append(dict(
            shape=name, label=shape["label"], projector=shape["cfg"]["projector_type"], image=f"{w}x{h}",
            encodes=info["encodes"], image_tokens=info["tokens"], threads=threads, repeat=repeat,
            inner=inner, llama_cpp_seconds=lc_best, ponder_seconds=po_best, ratio=po_best / lc_best,
            llama_cpp_seconds_per_encode=lc_best / info["encodes"], ponder_seconds_per_encode=po_best / info["encodes"],
            llama_cpp_preprocess_seconds=lc_pre, llama_cpp_layers_run=lc_layers, ponder_layers_run=po_layers,
            llama_cpp_gflop=lc_gflop, ponder_gflop=po_gflop,
            llama_cpp_gflops=lc_gflop / lc_best, ponder_gflops=po_gflop / po_best,
            llama_cpp_python=llama_cpp.__version__, mmproj=str(paths["mmproj"])))
    return rows


def print_table(rows: list, out=sys.stdout):
    """The table of `measure`'s rows."""
    if not rows:
        return
    r0 = rows[0]
    print(f"\nImage encoding (preprocess + encode, best of {r0['repeat']} rounds x {r0['inner']} runs), "
          f"{r0['threads']} threads, llama-cpp-python {r0['llama_cpp_python']} (CPU):", file=out)
    header = (f"{'shape':<9}{'proj':<9}{'image':>8}{'enc':>4}{'llama.cpp s':>13}{'ponder s':>10}{'ratio':>7}"
              f"{'lc s/enc':>10}{'po s/enc':>10}{'lc prep s':>11}{'lc GFLOP/s':>12}{'po GFLOP/s':>12}")
    print(header, file=out)
    for r in rows:
        print(f"{r['shape']:<9}{r['projector']:<9}{r['image']:>8}{r['encodes']:>4}{r['llama_cpp_seconds']:>13.3f}"
              f"{r['ponder_seconds']:>10.3f}{r['ratio']:>7.2f}{r['llama_cpp_seconds_per_encode']:>10.3f}"
              f"{r['ponder_seconds_per_encode']:>10.3f}{r['llama_cpp_preprocess_seconds']:>11.4f}"
              f"{r['llama_cpp_gflops']:>12.1f}{r['ponder_gflops']:>12.1f}", file=out)
    print("ratio = ponder / llama.cpp (below 1: Ponder faster). GFLOP/s over each side's own graph "
          "(each side's layers: up to the deepest feature layer; without one, llama.cpp's mlp graph "
          "runs one layer fewer than stored and Ponder all of them).", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="alternating rounds (Ponder, llama.cpp)")
    ap.add_argument("--inner", type=int, default=2, help="runs per side per round (best taken)")
    ap.add_argument("--shapes", default="smolvlm,llava", help=f"comma-separated, of {','.join(SHAPES)}")
    ap.add_argument("--ponder", default=".build/release/ponder")
    ap.add_argument("--dir", type=Path, default=Path(".build-bench/vision"), help="cache of the generated files")
    ap.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    args = ap.parse_args()
    names = [s for s in args.shapes.split(",") if s]
    rows = measure(names, threads=args.threads, repeat=args.repeat, inner=args.inner, ponder=args.ponder,
                   directory=args.dir)
    print_table(rows, sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
