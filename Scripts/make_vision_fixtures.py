#!/usr/bin/env python3
"""Build the vision parity fixtures for Ponder's Inference tests.

Writes small random-weight vision projector files (`mmproj`, general.architecture = clip),
a tiny `llama` text model whose width matches them, a few test images, and reference
outputs taken from llama.cpp's libmtmd (through llama-cpp-python's ctypes bindings) and
from HF transformers:

  * per (projector, image): llama.cpp's image embeddings exactly as mtmd produces them,
    the preprocessed pixels of every tile (captured from the clip graph's `inp_raw` input
    through mtmd's `cb_eval` hook, since libmtmd does not export clip_image_preprocess),
    both as the resized u8 RGB and as the normalized f32 planar tensor;
  * the trained-semantics embeddings from HF transformers (`CLIPVisionModel` + the LLaVA
    projector for `mlp`; `Idefics3VisionTransformer` + `Idefics3Connector` for
    `idefics3`), fed with llama.cpp's preprocessed pixels;
  * mtmd's chunk structure (text token ids, image chunk token counts) for a few prompts
    containing the media marker;
  * end-to-end logits of the text model after a whole multimodal prompt, every position.

Unless --quick, independent float64 numpy forward passes check the HF mapping and the
llama.cpp graph (class token placement, layer count, pixel shuffle); their errors are
stored under `checks` in references.json (checks, never references).

Output: Tests/InferenceTests/Fixtures/vision/ (see README.md there for the formats).

Usage:  python3 Scripts/make_vision_fixtures.py [--out DIR] [--quick]
Needs:  numpy, gguf, llama-cpp-python (built from source, with libmtmd), torch (CPU),
        transformers.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
import gguf
from gguf import GGMLQuantizationType as T

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_model_fixtures as mmf  # noqa: E402  (vocabulary, weights, GGUF writer, llama.cpp runner)

SEED = 20240801
N_THREADS = 2
MEDIA_MARKER = "<__media__>"

# ------------------------------------------------------------------ the text model

# 320 tokens in all (make_model_fixtures' N_VOCAB, which its make_weights uses): its byte-level
# BPE vocabulary, one extra merge "Ċ Ċ" (the "\n\n" token mtmd looks up for idefics3), and the
# special tokens below (token type 3, control), which the idefics3 and chat prompts use.
EXTRA_SPECIALS = (["<fake_token_around_image>", "<global-img>", "<image>", "<end_of_utterance>",
                   "<|im_start|>"]
                  + [f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)])
TEXT_FX = dict(name="text-llama", arch="llama", type="F32", n_embd=64, n_layer=2, n_head=4,
               n_head_kv=2, n_ff=96, tied=True, rope_base=10000.0)

# ------------------------------------------------------------------ the projectors

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

MLP_CFG = dict(projector_type="mlp", image_size=56, patch_size=14, n_embd=32, n_head=4, n_ff=64,
               n_layer=3, eps=1e-5, mean=CLIP_MEAN, std=CLIP_STD, activation="gelu_quick",
               class_token=True, pre_ln=True, post_ln=False, patch_bias=False)
IDEFICS3_CFG = dict(projector_type="idefics3", image_size=64, patch_size=16, n_embd=32, n_head=4,
                    n_ff=64, n_layer=2, eps=1e-6, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
                    activation="gelu", class_token=False, pre_ln=False, post_ln=True,
                    patch_bias=True, scale_factor=2, preproc_image_size=192)

PROJECTORS = [
    dict(name="clip-mlp", cfg=MLP_CFG, type="F32", legacy=False, group="mlp", weights="mlp"),
    # same weights and semantics as clip-mlp (outputs checked identical), so its cases share clip-mlp's files
    dict(name="clip-mlp-legacy", cfg=MLP_CFG, type="F32", legacy=True, group="mlp", weights="mlp",
         same_as="clip-mlp"),
    dict(name="clip-mlp-f16", cfg=MLP_CFG, type="F16", legacy=False, group="mlp", weights="mlp"),
    dict(name="siglip-idefics3", cfg=IDEFICS3_CFG, type="F32", legacy=False, group="idefics3",
         weights="idefics3"),
]

# ------------------------------------------------------------------ images

IMAGES = [
    dict(name="square56", width=56, height=56),
    dict(name="landscape80x45", width=80, height=45),
    dict(name="portrait33x70", width=33, height=70),
    dict(name="large240x160", width=240, height=160),
    # Edge cases of the issue: a tiny image, a grayscale PNG and an RGBA PNG (both sides get
    # the same RGB: gray replicated, alpha dropped as stb_image does with 3 channels).
    dict(name="tiny3x5", width=3, height=5),
    dict(name="gray40x30", width=40, height=30, mode="L"),
    dict(name="alpha50x38", width=50, height=38, mode="RGBA"),
]

PROMPTS = {
    "mlp": [
        dict(name="raw", text=f"{MEDIA_MARKER}\nWhat is this?", add_special=True, parse_special=True),
        dict(name="llava-chat", text=f"USER: {MEDIA_MARKER}\nWhat is in the image? ASSISTANT:",
             add_special=True, parse_special=True),
    ],
    "idefics3": [
        dict(name="raw", text=f"{MEDIA_MARKER}\nWhat is this?", add_special=True, parse_special=True),
        dict(name="smolvlm-chat",
             text=f"<|im_start|>User:{MEDIA_MARKER}What is in the image?<end_of_utterance>\nAssistant:",
             add_special=True, parse_special=True),
    ],
}
# The normalized f32 planar tiles are stored for every mlp image, and for one idefics3 image
# (size); the u8 RGB tiles are stored for every case (the f32 tiles are exactly
# (u8/255 - mean)/std of them, which the script asserts).
F32_PLANAR = {("mlp", im["name"]) for im in IMAGES} | {("idefics3", "portrait33x70")}

END_TO_END = [("siglip-idefics3", "large240x160", "raw"), ("siglip-idefics3", "portrait33x70", "smolvlm-chat"),
              ("clip-mlp", "landscape80x45", "raw")]

TOLERANCE = dict(
    definition="max|a - ref| / max|ref| over the whole tensor",
    preprocess_u8="exact",
    preprocess_f32=1e-6,
    embeddings_vs_trained=1e-4,
    embeddings_vs_mtmd=3e-3,
    end_to_end_logits_vs_trained=1e-3,
    end_to_end_logits_vs_mtmd=3e-3,
    notes=("trained: exact f32 math on the file's weight values; llama.cpp (mtmd) rounds the patch "
           "convolution's inputs and kernel to f16, looks GELU up in f16 tables and rounds the activations "
           "of F16-weight matmuls to f16, which puts it 5e-4..9e-4 from exact math here. mtmd embeddings "
           "of the mlp projector follow llama.cpp's graph (class token appended, one layer fewer) and are "
           "not the trained semantics; compare an mlp implementation with the trained files."),
)


# ================================================================== images


def make_image(name: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth gradients and waves, a few hard-edged shapes, and per-pixel noise: u8 [H, W, 3]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    phase = rng.uniform(0, 2 * np.pi, 3)
    freq = rng.uniform(2.0, 5.0, 3)
    img = np.empty((height, width, 3))
    img[..., 0] = 0.55 * u + 0.25 * np.sin(2 * np.pi * freq[0] * v + phase[0])
    img[..., 1] = 0.6 * v + 0.2 * np.cos(2 * np.pi * freq[1] * (u + v) + phase[1])
    img[..., 2] = 0.5 * (1 - u) * v + 0.3 * np.sin(2 * np.pi * freq[2] * u * v + phase[2])
    img = 0.15 + 0.7 * (img - img.min()) / (img.max() - img.min())
    for _ in range(3):  # rectangles and discs with hard edges
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.1, 0.3) * min(width, height)
        colour = rng.uniform(0, 1, 3)
        mask = ((x - cx) ** 2 + (y - cy) ** 2 < r * r) if rng.random() < 0.5 else \
            ((np.abs(x - cx) < r) & (np.abs(y - cy) < 0.6 * r))
        img[mask] = colour
    img += rng.normal(0, 0.04, img.shape)
    out = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    out[0, 0] = (0, 0, 0)        # extremes, so clamping paths are exercised
    out[-1, -1] = (255, 255, 255)
    return out


def write_png(path: Path, rgb: np.ndarray) -> None:
    """A plain 8-bit RGB PNG (filter 0 on every row), independent of any imaging library."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    path.write_bytes(png)


# ================================================================== weights and files


def vision_weights(cfg: dict, rng: np.random.Generator, n_embd_text: int) -> dict[str, np.ndarray]:
    """Float32 weights in numpy (HF) orientation: Linear [out, in], conv [embd, 3, p, p].
    Scales keep every activation O(1)."""
    d, ff, p = cfg["n_embd"], cfg["n_ff"], cfg["patch_size"]
    n_patches = (cfg["image_size"] // p) ** 2

    def linear(rows, cols, gain=1.0):
        return (rng.standard_normal((rows, cols)) * gain / np.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def bias(n, scale=0.1):
        return (scale * rng.standard_normal(n)).astype(np.float32)

    w: dict[str, np.ndarray] = {}
    if cfg["projector_type"] == "qwen2.5vl_merger":
        return qwen25vl_weights(cfg, rng, n_embd_text, linear, norm, bias)
    w["v.patch_embd.weight"] = (rng.standard_normal((d, 3, p, p)) * 1.5 / np.sqrt(3 * p * p)).astype(np.float32)
    if cfg["patch_bias"]:
        w["v.patch_embd.bias"] = bias(d)
    if cfg["class_token"]:
        w["v.class_embd"] = (rng.standard_normal(d) * 0.8).astype(np.float32)
    w["v.position_embd.weight"] = (rng.standard_normal((n_patches + cfg["class_token"], d)) * 0.5).astype(np.float32)
    if cfg["pre_ln"]:
        w["v.pre_ln.weight"], w["v.pre_ln.bias"] = norm(d), bias(d)
    for i in range(cfg["n_layer"]):
        b = f"v.blk.{i}."
        w[b + "ln1.weight"], w[b + "ln1.bias"] = norm(d), bias(d)
        w[b + "attn_q.weight"], w[b + "attn_q.bias"] = linear(d, d, 2.0), bias(d)
        w[b + "attn_k.weight"], w[b + "attn_k.bias"] = linear(d, d, 2.0), bias(d)
        w[b + "attn_v.weight"], w[b + "attn_v.bias"] = linear(d, d), bias(d)
        w[b + "attn_out.weight"], w[b + "attn_out.bias"] = linear(d, d), bias(d)
        w[b + "ln2.weight"], w[b + "ln2.bias"] = norm(d), bias(d)
        w[b + "ffn_up.weight"], w[b + "ffn_up.bias"] = linear(ff, d, 1.5), bias(ff)
        w[b + "ffn_down.weight"], w[b + "ffn_down.bias"] = linear(d, ff), bias(d)
    if cfg["post_ln"]:
        w["v.post_ln.weight"], w["v.post_ln.bias"] = norm(d), bias(d)
    if cfg["projector_type"] == "mlp":
        w["mm.0.weight"], w["mm.0.bias"] = linear(n_embd_text, d, 1.5), bias(n_embd_text)
        w["mm.2.weight"], w["mm.2.bias"] = linear(n_embd_text, n_embd_text), bias(n_embd_text)
    elif cfg["projector_type"] == "gemma3":
        # Gemma 3: RMSNorm weight (stored with its 1 added) and the [vision, text] projection,
        # used as x @ W (HF's orientation, as llama.cpp's converter stores it).
        w["mm.soft_emb_norm.weight"] = norm(d)
        w["mm.input_projection.weight"] = linear(n_embd_text, d, 1.5).T.copy()
    else:
        s = cfg["scale_factor"]
        w["mm.model.fc.weight"] = linear(n_embd_text, d * s * s, 1.5)
    return w


def qwen25vl_weights(cfg: dict, rng, n_embd_text: int, linear, norm, bias) -> dict[str, np.ndarray]:
    """A Qwen2.5-VL vision tower in llama.cpp's layout: the Conv3d split by frame (no bias),
    RMSNorm ln1/ln2 (weights only), q/k/v/out and SwiGLU with biases, the merger's RMSNorm
    (`v.post_ln`) and its two linear layers over 2x2 merged patches; no position table (rope)."""
    d, ff, p = cfg["n_embd"], cfg["n_ff"], cfg["patch_size"]
    w: dict[str, np.ndarray] = {}
    for name in ("v.patch_embd.weight", "v.patch_embd.weight.1"):
        w[name] = (rng.standard_normal((d, 3, p, p)) * 1.0 / np.sqrt(6 * p * p)).astype(np.float32)
    for i in range(cfg["n_layer"]):
        b = f"v.blk.{i}."
        w[b + "ln1.weight"], w[b + "ln2.weight"] = norm(d), norm(d)
        for name, gain in (("attn_q", 2.0), ("attn_k", 2.0), ("attn_v", 1.0), ("attn_out", 1.0)):
            w[b + name + ".weight"], w[b + name + ".bias"] = linear(d, d, gain), bias(d)
        w[b + "ffn_gate.weight"], w[b + "ffn_gate.bias"] = linear(ff, d, 1.5), bias(ff)
        w[b + "ffn_up.weight"], w[b + "ffn_up.bias"] = linear(ff, d, 1.5), bias(ff)
        w[b + "ffn_down.weight"], w[b + "ffn_down.bias"] = linear(d, ff), bias(d)
    w["v.post_ln.weight"] = norm(d)
    w["mm.0.weight"], w["mm.0.bias"] = linear(4 * d, 4 * d, 1.5), bias(4 * d)
    w["mm.2.weight"], w["mm.2.bias"] = linear(n_embd_text, 4 * d), bias(n_embd_text)
    return w


def stored(weights: dict[str, np.ndarray], wtype: str) -> dict[str, tuple[np.ndarray, T]]:
    """As stored: F16 files hold every tensor of 2+ dims in F16 (as llama.cpp's converters
    write them), 1-D tensors (norms, biases, class embedding) in F32."""
    if wtype == "F32":
        return {k: (v, T.F32) for k, v in weights.items()}
    return {k: ((v.astype(np.float16), T.F16) if v.ndim >= 2 else (v, T.F32)) for k, v in weights.items()}


def effective(tensors: dict[str, tuple[np.ndarray, T]]) -> dict[str, np.ndarray]:
    """The weight values a file holds, as float32 (F16 values widened exactly)."""
    return {k: v.astype(np.float32) for k, (v, _) in tensors.items()}


def legacy_names(tensors: dict) -> dict:
    """Old LLaVA converters wrote each block's ffn_up under ffn_down's name and vice versa
    (weights and biases); llama.cpp spots this from ffn_down's row length and swaps back."""
    out = {}
    for name, value in tensors.items():
        if ".ffn_up." in name:
            name = name.replace(".ffn_up.", ".ffn_down.")
        elif ".ffn_down." in name:
            name = name.replace(".ffn_down.", ".ffn_up.")
        out[name] = value
    return out


def write_mmproj(path: Path, proj: dict, tensors: dict[str, tuple[np.ndarray, T]], n_embd_text: int):
    cfg = proj["cfg"]
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_name(f"ponder-vision-{proj['name']}")
    w.add_file_type(1 if proj["type"] == "F16" else 0)
    w.add_string("clip.projector_type", cfg["projector_type"])
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_text_encoder", False)
    if cfg["projector_type"] == "mlp":
        w.add_bool("clip.has_llava_projector", True)
    if cfg["activation"] == "gelu":
        w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.image_size", cfg["image_size"])
    w.add_uint32("clip.vision.patch_size", cfg["patch_size"])
    w.add_uint32("clip.vision.embedding_length", cfg["n_embd"])
    w.add_uint32("clip.vision.feed_forward_length", cfg["n_ff"])
    w.add_uint32("clip.vision.block_count", cfg["n_layer"])
    if cfg.get("feature_layer"):
        w.add_array("clip.vision.feature_layer", [int(x) for x in cfg["feature_layer"]])
    w.add_uint32("clip.vision.projection_dim", n_embd_text)
    w.add_uint32("clip.vision.attention.head_count", cfg["n_head"])
    w.add_float32("clip.vision.attention.layer_norm_epsilon", cfg["eps"])
    w.add_array("clip.vision.image_mean", [float(x) for x in cfg["mean"]])
    w.add_array("clip.vision.image_std", [float(x) for x in cfg["std"]])
    if cfg["projector_type"] == "idefics3":
        w.add_uint32("clip.vision.projector.scale_factor", cfg["scale_factor"])
        w.add_uint32("clip.vision.preproc_image_size", cfg["preproc_image_size"])
    if cfg["projector_type"] == "qwen2.5vl_merger":
        w.add_bool("clip.use_silu", True)
        w.add_uint32("clip.vision.n_wa_pattern", cfg["n_wa_pattern"])
    if cfg["projector_type"] == "gemma3" and cfg["scale_factor"] != 4:
        w.add_uint32("clip.vision.projector.scale_factor", cfg["scale_factor"])   # 4 is the default
    for name, (data, _) in tensors.items():
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def text_vocabulary():
    """make_model_fixtures' byte-level BPE vocabulary, shortened so that with the merge
    "Ċ Ċ" and EXTRA_SPECIALS appended it has exactly mmf.N_VOCAB tokens."""
    tokens, types, merges = mmf.make_vocabulary(mmf.N_VOCAB - len(EXTRA_SPECIALS) - 1)
    nl2 = "\u010a\u010a"  # bytes-to-unicode of "\n\n"
    assert nl2 not in tokens
    tokens, types, merges = tokens + [nl2], types + [1], merges + ["\u010a \u010a"]
    tokens += EXTRA_SPECIALS
    types += [3] * len(EXTRA_SPECIALS)
    assert len(tokens) == mmf.N_VOCAB == len(set(tokens))
    return tokens, types, merges


# ================================================================== llama.cpp / mtmd


class GGMLTensor(ctypes.Structure):
    """struct ggml_tensor of the vendored ggml (ggml/include/ggml.h), read-only use."""
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p),
                ("ne", ctypes.c_int64 * 4), ("nb", ctypes.c_size_t * 4),
                ("op", ctypes.c_int), ("op_params", ctypes.c_int32 * 16), ("flags", ctypes.c_int32),
                ("src", ctypes.c_void_p * 10), ("view_src", ctypes.c_void_p),
                ("view_offs", ctypes.c_size_t), ("data", ctypes.c_void_p),
                ("name", ctypes.c_char * 64), ("extra", ctypes.c_void_p), ("padding", ctypes.c_char * 8)]


class InputCapture:
    """mtmd's cb_eval hook: records every distinct `inp_raw` tensor (the preprocessed,
    normalized planar pixels of one tile) that a clip graph node reads."""

    def __init__(self):
        import llama_cpp
        self.captured: list[np.ndarray] = []
        self._seen: set[int] = set()

        @llama_cpp.ggml_backend_sched_eval_callback
        def callback(t, ask, user_data):
            node = ctypes.cast(t, ctypes.POINTER(GGMLTensor)).contents
            sources = [ctypes.cast(s, ctypes.POINTER(GGMLTensor)).contents for s in node.src if s]
            wanted = [s for s in sources if s.name == b"inp_raw"]
            if ask:
                return bool(wanted)
            for src in wanted:
                if src.data in self._seen:
                    continue
                self._seen.add(src.data)
                assert src.type == 0, "inp_raw is not f32"
                ne = list(src.ne)
                n = int(np.prod(ne))
                assert src.nb[0] == 4 and src.nb[1] == 4 * ne[0], "inp_raw is not contiguous"
                data = np.frombuffer(ctypes.string_at(src.data, 4 * n), dtype=np.float32)
                # ggml ne = [W, H, C, B] (W fastest) -> numpy [B, C, H, W]
                self.captured.append(data.reshape(ne[3], ne[2], ne[1], ne[0]).copy())
            return True

        self.callback = callback

    def reset(self):
        self.captured, self._seen = [], set()


class Mtmd:
    """A libmtmd context on a text model, with reference settings: CPU, flash attention
    off, no warmup, N_THREADS threads, the inp_raw capture hook."""

    def __init__(self, mmproj: Path, text: "mmf.LlamaRun"):
        import llama_cpp
        from llama_cpp import mtmd_cpp as M
        self.M, self.L, self.text = M, llama_cpp, text
        self.capture = InputCapture()
        p = M.mtmd_context_params_default()
        p.use_gpu = False
        p.print_timings = False
        p.n_threads = N_THREADS
        p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        p.warmup = False
        p.cb_eval = self.capture.callback
        p.cb_eval_user_data = None
        self.ctx = M.mtmd_init_from_file(str(mmproj).encode(), text.model, p)
        if not self.ctx:
            raise RuntimeError(f"mtmd could not load {mmproj}:\n" + "".join(mmf._LOG_LINES[-20:]))
        self.vocab = llama_cpp.llama_model_get_vocab(text.model)
        self.n_embd = llama_cpp.llama_model_n_embd(text.model)

    def tokenize(self, prompt: dict, rgb: np.ndarray):
        M = self.M
        h, w, _ = rgb.shape
        buf = (ctypes.c_uint8 * rgb.size).from_buffer_copy(np.ascontiguousarray(rgb).tobytes())
        bitmap = M.mtmd_bitmap_init(w, h, buf)
        chunks = M.mtmd_input_chunks_init()
        text = M.mtmd_input_text(prompt["text"].encode(), len(prompt["text"].encode()),
                                 prompt["add_special"], prompt["parse_special"])
        bitmaps = (M.mtmd_bitmap_p_ctypes * 1)(bitmap)
        rc = M.mtmd_tokenize(self.ctx, chunks, ctypes.byref(text), bitmaps, 1)
        M.mtmd_bitmap_free(bitmap)
        if rc != 0:
            raise RuntimeError(f"mtmd_tokenize returned {rc}")
        return chunks

    def chunk_list(self, chunks) -> list:
        M = self.M
        return [M.mtmd_input_chunks_get(chunks, i) for i in range(M.mtmd_input_chunks_size(chunks))]

    def describe(self, chunk) -> dict:
        M = self.M
        kind = M.mtmd_input_chunk_get_type(chunk)
        if kind == M.MTMD_INPUT_CHUNK_TYPE_TEXT:
            n = ctypes.c_size_t(0)
            ptr = M.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
            ids = [int(ptr[i]) for i in range(n.value)]
            return dict(type="text", tokens=ids, pieces=[self.piece(t) for t in ids])
        assert kind == M.MTMD_INPUT_CHUNK_TYPE_IMAGE
        img = M.mtmd_input_chunk_get_tokens_image(chunk)
        return dict(type="image", n_tokens=int(M.mtmd_input_chunk_get_n_tokens(chunk)),
                    n_pos=int(M.mtmd_input_chunk_get_n_pos(chunk)),
                    nx=int(M.mtmd_image_tokens_get_nx(img)), ny=int(M.mtmd_image_tokens_get_ny(img)))

    def piece(self, token: int) -> str:
        buf = ctypes.create_string_buffer(256)
        n = self.L.llama_token_to_piece(self.vocab, token, buf, 256, 0, True)
        assert n >= 0
        return buf.raw[:n].decode("utf-8", "replace")

    def encode(self, chunk) -> tuple[np.ndarray, np.ndarray]:
        """Encodes one image chunk: (embeddings [n_tokens, n_embd], inp_raw [C, H, W])."""
        M = self.M
        self.capture.reset()
        rc = M.mtmd_encode_chunk(self.ctx, chunk)
        assert rc == 0, f"mtmd_encode_chunk returned {rc}"
        n = M.mtmd_input_chunk_get_n_tokens(chunk)
        ptr = M.mtmd_get_output_embd(self.ctx)
        emb = np.ctypeslib.as_array(ptr, shape=(n * self.n_embd,)).reshape(n, self.n_embd).copy()
        assert len(self.capture.captured) == 1, f"captured {len(self.capture.captured)} inp_raw tensors"
        raw = self.capture.captured[0]
        assert raw.shape[0] == 1
        return emb, raw[0]

    def free_chunks(self, chunks):
        self.M.mtmd_input_chunks_free(chunks)

    def close(self):
        self.M.mtmd_free(self.ctx)


def eval_all_logits(run: "mmf.LlamaRun", mt: Mtmd, chunks, replacement: np.ndarray | None = None
                    ) -> tuple[np.ndarray, list]:
    """Feeds a tokenized multimodal prompt through the text model chunk by chunk (text
    tokens by id, image chunks as embeddings, positions consecutive, causal) and returns
    the logits of every position [n_positions, n_vocab]. The image embeddings are
    llama.cpp's own, or the rows of `replacement` taken in chunk order."""
    L = run.L
    rows, layout, used = [], [], 0
    for chunk in mt.chunk_list(chunks):
        info = mt.describe(chunk)
        if info["type"] == "text":
            rows.append(run.decode(info["tokens"]))
            layout.append(dict(type="text", n=len(info["tokens"]), tokens=info["tokens"]))
            continue
        if replacement is None:
            emb, _ = mt.encode(chunk)
        else:
            emb = replacement[used:used + info["n_tokens"]]
            used += info["n_tokens"]
        n, d = emb.shape
        batch = L.llama_batch_init(n, d, 1)
        try:
            ctypes.memmove(batch.embd, np.ascontiguousarray(emb, dtype=np.float32).ctypes.data, n * d * 4)
            for i in range(n):
                batch.pos[i] = run.n_past + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 1
            batch.n_tokens = n
            assert L.llama_decode(run.ctx, batch) == 0
        finally:
            L.llama_batch_free(batch)
        out = np.empty((n, run.n_vocab), dtype=np.float32)
        for i in range(n):
            out[i] = np.ctypeslib.as_array(L.llama_get_logits_ith(run.ctx, i), shape=(run.n_vocab,))
        run.n_past += n
        rows.append(out)
        layout.append(dict(type="image", n=n))
    assert replacement is None or used == len(replacement)
    return np.concatenate(rows), layout


def helper_last_logits(text_path: Path, mmproj: Path, prompt: dict, rgb: np.ndarray) -> np.ndarray:
    """The same prompt through mtmd_helper_eval_chunks (llama.cpp's own driver): last logits."""
    run = mmf.LlamaRun(text_path)
    mt = Mtmd(mmproj, run)
    try:
        chunks = mt.tokenize(prompt, rgb)
        new_n_past = run.L.llama_pos(0)
        rc = mt.M.mtmd_helper_eval_chunks(mt.ctx, run.ctx, chunks, 0, 0, mmf.CONTEXT_LENGTH, True,
                                          ctypes.byref(new_n_past))
        assert rc == 0, f"mtmd_helper_eval_chunks returned {rc}"
        mt.free_chunks(chunks)
        return np.ctypeslib.as_array(run.L.llama_get_logits_ith(run.ctx, -1), shape=(run.n_vocab,)).copy()
    finally:
        mt.close()
        run.close()


# ================================================================== references outside llama.cpp


def hf_mlp(weights: dict[str, np.ndarray], cfg: dict, pixels: np.ndarray) -> tuple[np.ndarray, list]:
    """LLaVA-1.5 as trained, in HF transformers: CLIPVisionModel (class token first at
    position 0), hidden_states[-1] = the output of every stored layer, no post_ln, class
    token dropped, then linear_1 -> GELU (erf, LLaVA's projector_hidden_act "gelu") -> linear_2."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel
    from transformers.activations import ACT2FN

    d = cfg["n_embd"]
    config = CLIPVisionConfig(hidden_size=d, intermediate_size=cfg["n_ff"], num_hidden_layers=cfg["n_layer"],
                              num_attention_heads=cfg["n_head"], num_channels=3, image_size=cfg["image_size"],
                              patch_size=cfg["patch_size"], hidden_act="quick_gelu",
                              layer_norm_eps=cfg["eps"], attention_dropout=0.0)
    config._attn_implementation = "eager"
    model = CLIPVisionModel(config).eval()
    t = lambda name: torch.from_numpy(np.ascontiguousarray(weights[name]))  # noqa: E731
    sd = {
        "vision_model.embeddings.class_embedding": t("v.class_embd"),
        "vision_model.embeddings.patch_embedding.weight": t("v.patch_embd.weight"),
        "vision_model.embeddings.position_embedding.weight": t("v.position_embd.weight"),
        "vision_model.pre_layrnorm.weight": t("v.pre_ln.weight"),
        "vision_model.pre_layrnorm.bias": t("v.pre_ln.bias"),
        "vision_model.post_layernorm.weight": torch.ones(d),   # not in the GGUF and not used
        "vision_model.post_layernorm.bias": torch.zeros(d),
    }
    for i in range(cfg["n_layer"]):
        g, h = f"v.blk.{i}.", f"vision_model.encoder.layers.{i}."
        for a, b in (("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
                     ("attn_out", "self_attn.out_proj"), ("ln1", "layer_norm1"), ("ln2", "layer_norm2"),
                     ("ffn_up", "mlp.fc1"), ("ffn_down", "mlp.fc2")):
            sd[h + b + ".weight"] = t(g + a + ".weight")
            sd[h + b + ".bias"] = t(g + a + ".bias")
    # transformers 4.x names these "vision_model.*", 5.x without the prefix
    if not any(k.startswith("vision_model.") for k in model.state_dict()):
        sd = {k[len("vision_model."):]: v for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    with torch.no_grad():
        out = model(pixel_values=torch.from_numpy(pixels[None].astype(np.float32)), output_hidden_states=True)
        feats = out.hidden_states[-1][0, 1:]          # every stored layer; drop the class token
        x = feats @ t("mm.0.weight").T + t("mm.0.bias")
        x = ACT2FN["gelu"](x)
        x = x @ t("mm.2.weight").T + t("mm.2.bias")
    hidden = [h[0].numpy().astype(np.float64) for h in out.hidden_states]
    return x.numpy().astype(np.float32), hidden


def hf_idefics3(weights: dict[str, np.ndarray], cfg: dict, pixels: np.ndarray, n_embd_text: int) -> np.ndarray:
    """SmolVLM / Idefics3 as trained, in HF transformers: Idefics3VisionTransformer (SigLIP,
    gelu_pytorch_tanh, post_layernorm) then Idefics3Connector (pixel shuffle + fc, no bias)."""
    import torch
    from transformers import Idefics3Config
    from transformers.models.idefics3.modeling_idefics3 import Idefics3Connector, Idefics3VisionTransformer

    d = cfg["n_embd"]
    config = Idefics3Config(
        vision_config=dict(hidden_size=d, intermediate_size=cfg["n_ff"], num_hidden_layers=cfg["n_layer"],
                           num_attention_heads=cfg["n_head"], num_channels=3, image_size=cfg["image_size"],
                           patch_size=cfg["patch_size"], hidden_act="gelu_pytorch_tanh",
                           layer_norm_eps=cfg["eps"], attention_dropout=0.0),
        text_config=dict(model_type="llama", hidden_size=n_embd_text, intermediate_size=128,
                         num_hidden_layers=1, num_attention_heads=4),
        scale_factor=cfg["scale_factor"])
    config.vision_config._attn_implementation = "eager"
    vision = Idefics3VisionTransformer(config.vision_config).eval()
    connector = Idefics3Connector(config).eval()
    t = lambda name: torch.from_numpy(np.ascontiguousarray(weights[name]))  # noqa: E731
    sd = {
        "embeddings.patch_embedding.weight": t("v.patch_embd.weight"),
        "embeddings.patch_embedding.bias": t("v.patch_embd.bias"),
        "embeddings.position_embedding.weight": t("v.position_embd.weight"),
        "post_layernorm.weight": t("v.post_ln.weight"),
        "post_layernorm.bias": t("v.post_ln.bias"),
    }
    for i in range(cfg["n_layer"]):
        g, h = f"v.blk.{i}.", f"encoder.layers.{i}."
        for a, b in (("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
                     ("attn_out", "self_attn.out_proj"), ("ln1", "layer_norm1"), ("ln2", "layer_norm2"),
                     ("ffn_up", "mlp.fc1"), ("ffn_down", "mlp.fc2")):
            sd[h + b + ".weight"] = t(g + a + ".weight")
            sd[h + b + ".bias"] = t(g + a + ".bias")
    vision.load_state_dict(sd, strict=True)
    connector.load_state_dict({"modality_projection.proj.weight": t("mm.model.fc.weight")}, strict=True)
    with torch.no_grad():
        hidden = vision(pixel_values=torch.from_numpy(pixels[None].astype(np.float32))).last_hidden_state
        out = connector(hidden)
    return out[0].numpy().astype(np.float32)


def numpy_vit(w: dict[str, np.ndarray], cfg: dict, pixels: np.ndarray, *, class_pos: str | None,
              n_run: int, f16_types: dict | None = None) -> np.ndarray:
    """An independent float64 ViT, for the checks only. class_pos: "first" (HF: class token
    at position 0), "last" (llama.cpp's llava graph: appended after the patches), None.
    With f16_types, emulates ggml's CPU rounding: patch-conv inputs and kernel to f16,
    activations of matmuls with F16 weights to f16, and GELU through f16 tables."""
    W = {k: v.astype(np.float64) for k, v in w.items()}
    f16 = (lambda a: a.astype(np.float16).astype(np.float64)) if f16_types is not None else (lambda a: a)
    d, p, nh = cfg["n_embd"], cfg["patch_size"], cfg["n_head"]
    _, H, Wd = pixels.shape
    gh, gw = H // p, Wd // p
    patches = pixels.astype(np.float64).reshape(3, gh, p, gw, p).transpose(1, 3, 0, 2, 4).reshape(gh * gw, 3 * p * p)
    x = f16(patches) @ f16(W["v.patch_embd.weight"].reshape(d, -1)).T
    if "v.patch_embd.bias" in W:
        x = x + W["v.patch_embd.bias"]
    if class_pos == "first":
        x = np.concatenate([W["v.class_embd"][None], x])
    elif class_pos == "last":
        x = np.concatenate([x, W["v.class_embd"][None]])
    x = x + W["v.position_embd.weight"][: len(x)]

    def ln(v, name):
        mu = v.mean(-1, keepdims=True)
        var = ((v - mu) ** 2).mean(-1, keepdims=True)
        return (v - mu) / np.sqrt(var + cfg["eps"]) * W[name + ".weight"] + W[name + ".bias"]

    def mm(v, name):
        if f16_types is not None and f16_types.get(name + ".weight") == T.F16:
            v = f16(v)
        out = v @ W[name + ".weight"].T
        return out + W[name + ".bias"] if name + ".bias" in W else out

    def act(v):
        if cfg["activation"] == "gelu":
            g = lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))  # noqa: E731
            if f16_types is None:
                return g(v)
            return np.where(v <= -10, 0.0, np.where(v >= 10, v, f16(g(f16(v)))))
        g = lambda z: z / (1 + np.exp(-1.702 * z))  # noqa: E731
        return g(v) if f16_types is None else f16(g(f16(v)))

    if "v.pre_ln.weight" in W:
        x = ln(x, "v.pre_ln")
    n, hd = len(x), d // nh
    for i in range(n_run):
        b = f"v.blk.{i}."
        h = ln(x, b + "ln1")
        q, k, v = (mm(h, b + f"attn_{t}").reshape(n, nh, hd) for t in "qkv")
        att = np.empty((n, nh, hd))
        for head in range(nh):
            s = q[:, head] @ k[:, head].T / np.sqrt(hd)
            s = np.exp(s - s.max(1, keepdims=True))
            att[:, head] = (s / s.sum(1, keepdims=True)) @ v[:, head]
        x = x + mm(att.reshape(n, d), b + "attn_out")
        h = ln(x, b + "ln2")
        x = x + mm(act(mm(h, b + "ffn_up")), b + "ffn_down")
    if "v.post_ln.weight" in W:
        x = ln(x, "v.post_ln")
    return x


def numpy_projector(w: dict[str, np.ndarray], cfg: dict, feats: np.ndarray, *, gelu: str,
                    grid: tuple[int, int] | None = None) -> np.ndarray:
    W = {k: v.astype(np.float64) for k, v in w.items()}
    if cfg["projector_type"] == "mlp":
        x = feats @ W["mm.0.weight"].T + W["mm.0.bias"]
        if gelu == "erf":
            from math import erf
            x = 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))
        else:
            x = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
        return x @ W["mm.2.weight"].T + W["mm.2.bias"]
    s = cfg["scale_factor"]
    gh, gw = grid
    d = feats.shape[1]
    # output token (by, bx) concatenates the s x s block's patches, row of the block first
    blocks = feats.reshape(gh // s, s, gw // s, s, d).transpose(0, 2, 1, 3, 4).reshape((gh // s) * (gw // s), s * s * d)
    return blocks @ W["mm.model.fc.weight"].T


def pillow_resize_check(src: np.ndarray, size: tuple[int, int], algo: str) -> np.ndarray:
    from PIL import Image
    f = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}[algo]
    return np.asarray(Image.fromarray(src).resize(size, f))


def pillow_two_pass(src: np.ndarray, size: tuple[int, int], algo: str) -> np.ndarray:
    """Pillow forced to resample the width first and the height second, as llama.cpp does."""
    h, w = src.shape[:2]
    mid = pillow_resize_check(src, (size[0], h), algo) if size[0] != w else src
    return pillow_resize_check(mid, size, algo) if size[1] != h else mid


# ================================================================== main


def max_rel(a, ref) -> float:
    return mmf.max_relative(np.asarray(a), np.asarray(ref, dtype=np.float64))


def tile_roles(chunks_info: list[dict]) -> list[dict]:
    """Names each image chunk from the text just before it (idefics3: <row_R_col_C> or
    <global-img>; otherwise the single image)."""
    roles, prev_pieces = [], []
    for info in chunks_info:
        if info["type"] == "text":
            prev_pieces = info["pieces"]
            continue
        tag = prev_pieces[-1] if prev_pieces else ""
        if tag.startswith("<row_"):
            r, c = tag[len("<row_"):-1].split("_col_")
            roles.append(dict(role="tile", row=int(r), col=int(c)))
        elif tag == "<global-img>":
            roles.append(dict(role="overview"))
        else:
            roles.append(dict(role="image"))
        prev_pieces = []
    return roles


MEDIA_WRAPPING = {
    "mlp": dict(
        image_begin=[], image_end=[],
        description="no tokens around the image: the image chunk replaces the marker; the text on either "
                    "side is tokenized on its own (BOS, when added, goes first, in a chunk of its own if "
                    "the prompt starts with the marker)"),
    "idefics3": dict(
        tile_prefix_template="<fake_token_around_image><row_{row}_col_{col}>",
        tile_prefix_parse_special=True,
        row_separator=["\n"],
        overview_prefix=["\n\n", "<fake_token_around_image>", "<global-img>"],
        overview_suffix=["<fake_token_around_image>"],
        description="tiles row-major, each preceded by the tokens of <fake_token_around_image><row_R_col_C> "
                    "(1-based); the token \"\\n\" between rows (none after the last row); then the single "
                    "tokens \"\\n\\n\", <fake_token_around_image>, <global-img>, the overview, and "
                    "<fake_token_around_image>. \"\\n\" and \"\\n\\n\" are looked up as the vocabulary "
                    "entries whose piece is exactly that text, not tokenized. Nothing follows a tile."),
}


def check_wrapping(entry: dict) -> None:
    """Asserts that mtmd's text chunks between the image chunks are exactly MEDIA_WRAPPING."""
    kind = entry["projector_type"]
    for pr in entry["prompts"]:
        texts, between, images_seen = [], [], []
        for c in pr["chunks"]:
            if c["type"] == "text":
                between += c["pieces"]
            else:
                texts.append(between)
                between = []
                images_seen.append(c)
        texts.append(between)
        if kind == "mlp":
            assert len(images_seen) == 1
            continue
        n_tiles = len(images_seen) - 1
        roles = [t for t in entry["cases"] if t["image"] == pr["image"]][0]["image_chunks"]
        gx = max(r.get("col", 0) for r in roles)
        gy = max(r.get("row", 0) for r in roles)
        assert gx * gy == n_tiles
        for i in range(n_tiles):
            r, c = i // gx + 1, i % gx + 1
            want = (["\n"] if (c == 1 and r > 1) else []) + ["<fake_token_around_image>", f"<row_{r}_col_{c}>"]
            got = texts[i] if i > 0 else texts[0][-len(want):]
            assert got == want, (pr["prompt"], pr["image"], i, got, want)
        assert texts[n_tiles] == ["\n\n", "<fake_token_around_image>", "<global-img>"], texts[n_tiles]
        assert texts[n_tiles + 1][0] == "<fake_token_around_image>", texts[n_tiles + 1]


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=repo / "Tests/InferenceTests/Fixtures/vision")
    parser.add_argument("--quick", action="store_true", help="skip the numpy and Pillow cross-checks")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    import llama_cpp
    import torch
    import transformers
    torch.manual_seed(0)
    llama_cpp.llama_backend_init()
    mmf._install_logger()
    from llama_cpp import mtmd_cpp
    mtmd_cpp.mtmd_log_set(mmf._install_logger.keep, ctypes.c_void_p(0))  # into mmf._LOG_LINES
    mtmd_cpp.mtmd_helper_log_set(mmf._install_logger.keep, ctypes.c_void_p(0))
    written: list[Path] = []

    def save_bin(name: str, array: np.ndarray, dtype="<f4") -> str:
        path = out / name
        np.ascontiguousarray(array).astype(dtype).tofile(path)
        written.append(path)
        return name

    # ---------------------------------------------------------------- text model
    vocab = text_vocabulary()
    text_path = out / f"{TEXT_FX['name']}.gguf"
    text_weights = mmf.make_weights(TEXT_FX, np.random.default_rng([SEED, 0]))
    mmf.write_gguf(text_path, TEXT_FX, {k: (v, T.F32) for k, v in text_weights.items()}, vocab, "F32")
    written.append(text_path)
    tokens = vocab[0]
    n_embd_text = TEXT_FX["n_embd"]

    # ---------------------------------------------------------------- images
    images = []
    for index, im in enumerate(IMAGES):
        rgb = make_image(im["name"], im["width"], im["height"], np.random.default_rng([SEED, 1, index]))
        mode = im.get("mode", "RGB")
        if mode == "L":
            gray = np.round(rgb.astype(np.float64).mean(axis=2)).astype(np.uint8)
            rgb = np.repeat(gray[..., None], 3, axis=2)
            Image.fromarray(gray, "L").save(out / f"{im['name']}.png")
        elif mode == "RGBA":
            alpha = np.random.default_rng([SEED, 4, index]).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
            Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(out / f"{im['name']}.png")
        else:
            write_png(out / f"{im['name']}.png", rgb)
        (out / f"{im['name']}.rgb").write_bytes(rgb.tobytes())
        written += [out / f"{im['name']}.png", out / f"{im['name']}.rgb"]
        images.append(dict(im, rgb=rgb))

    # ---------------------------------------------------------------- projectors
    base_weights = {
        "mlp": vision_weights(MLP_CFG, np.random.default_rng([SEED, 2]), n_embd_text),
        "idefics3": vision_weights(IDEFICS3_CFG, np.random.default_rng([SEED, 3]), n_embd_text),
    }
    preprocess: dict[str, dict] = {}
    projector_entries, checks = [], {}
    mtmd_embeddings: dict[tuple[str, str], np.ndarray] = {}
    trained_embeddings: dict[tuple[str, str], np.ndarray] = {}

    for proj in PROJECTORS:
        cfg = proj["cfg"]
        tensors = stored(base_weights[proj["weights"]], proj["type"])
        weights = effective(tensors)
        qtypes = {k: q for k, (_, q) in tensors.items()}
        path = out / f"{proj['name']}.gguf"
        write_mmproj(path, proj, legacy_names(tensors) if proj["legacy"] else tensors, n_embd_text)
        written.append(path)

        run = mmf.LlamaRun(text_path)
        mmf._LOG_LINES.clear()
        mt = Mtmd(path, run)
        load_log = "".join(mmf._LOG_LINES)
        if proj["legacy"]:
            assert "ffn up/down are swapped" in load_log, "llama.cpp did not report the legacy swap"
        entry = dict(name=proj["name"], file=path.name, projector_type=cfg["projector_type"],
                     weight_type=proj["type"], legacy_ffn_swap=proj["legacy"],
                     preprocess=proj["group"], text_model=text_path.name,
                     n_embd_out=n_embd_text,
                     hparams={k: v for k, v in cfg.items() if k not in ("projector_type",)},
                     tensor_types=sorted({q.name for q in qtypes.values()}),
                     cases=[], prompts=[])
        if proj is PROJECTORS[0]:
            # llama.cpp's own PNG decoder (stb_image) must give the .rgb bytes
            for im in images:
                bm = mt.M.mtmd_helper_bitmap_init_from_file(mt.ctx, str(out / f"{im['name']}.png").encode(), False)
                assert bm, "stb_image could not read the PNG"
                n = mt.M.mtmd_bitmap_get_n_bytes(bm)
                decoded = ctypes.string_at(mt.M.mtmd_bitmap_get_data(bm), n)
                size = (mt.M.mtmd_bitmap_get_nx(bm), mt.M.mtmd_bitmap_get_ny(bm))
                mt.M.mtmd_bitmap_free(bm)
                assert size == (im["width"], im["height"]) and decoded == im["rgb"].tobytes(), im["name"]
            checks["stb_image_decodes_png_to_rgb_file"] = True
        group = preprocess.setdefault(proj["group"], {})
        stem = proj.get("same_as", proj["name"])  # legacy: the same bytes as clip-mlp (asserted below)
        for im in images:
            chunks = mt.tokenize(PROMPTS[proj["group"]][0], im["rgb"])
            infos = [mt.describe(c) for c in mt.chunk_list(chunks)]
            roles = tile_roles(infos)
            embs, raws = [], []
            for c, info in zip(mt.chunk_list(chunks), infos):
                if info["type"] == "image":
                    e, r = mt.encode(c)
                    embs.append(e)
                    raws.append(r)
            mt.free_chunks(chunks)
            emb = np.concatenate(embs)
            assert np.all(np.isfinite(emb))
            mtmd_embeddings[(proj["name"], im["name"])] = emb

            # preprocessing: identical for every file of a group (checked), stored once
            mean, std = np.array(cfg["mean"], np.float32), np.array(cfg["std"], np.float32)
            u8_tiles = []
            for r in raws:
                # invert (u8/255 - mean)/std; exact because llama.cpp normalizes u8 values
                u8 = np.round((r * std[:, None, None] + mean[:, None, None]) * 255.0).astype(np.int64)
                assert u8.min() >= 0 and u8.max() <= 255
                u8 = u8.astype(np.uint8)
                again = ((u8.astype(np.float32) / np.float32(255.0)) - mean[:, None, None]) / std[:, None, None]
                assert np.array_equal(again.astype(np.float32), r), "normalization is not (u8/255 - mean)/std in f32"
                u8_tiles.append(u8.transpose(1, 2, 0))  # [H, W, 3]
            key = im["name"]
            if key in group:
                assert len(group[key]["_raws"]) == len(raws) and all(
                    np.array_equal(a, b) for a, b in zip(group[key]["_raws"], raws)), "preprocessing differs within group"
            else:
                base = f"{proj['group']}.{im['name']}"
                group[key] = dict(
                    image=im["name"], n_tiles=len(raws),
                    tiles=[dict(rr, width=int(r.shape[2]), height=int(r.shape[1])) for rr, r in zip(roles, raws)],
                    u8_rgb=save_bin(f"{base}.pre.u8", np.concatenate([t.reshape(-1) for t in u8_tiles]), "u1"),
                    f32_planar=(save_bin(f"{base}.pre.f32.bin", np.concatenate([r.reshape(-1) for r in raws]))
                                if (proj["group"], im["name"]) in F32_PLANAR else None),
                    _raws=raws, _u8=u8_tiles)

            case = dict(image=im["name"], n_image_tokens=int(emb.shape[0]), n_embd=int(emb.shape[1]),
                        image_chunks=[dict(rr, n_tokens=int(e.shape[0])) for rr, e in zip(roles, embs)],
                        mtmd_embeddings=save_bin(f"{stem}.{im['name']}.mtmd.f32.bin", emb))

            # trained-semantics references (HF transformers), fed llama.cpp's pixels
            if cfg["projector_type"] == "mlp":
                trained, hidden = hf_mlp(weights, cfg, raws[0])
            else:
                trained = np.concatenate([hf_idefics3(weights, cfg, r, n_embd_text) for r in raws])
            trained_embeddings[(proj["name"], im["name"])] = trained
            case["trained_embeddings"] = save_bin(f"{stem}.{im['name']}.trained.f32.bin", trained)
            case["trained_vs_mtmd"] = max_rel(emb, trained)
            c = {}
            if not args.quick:
                if cfg["projector_type"] == "mlp":
                    p = cfg["patch_size"]
                    n_p = (cfg["image_size"] // p) ** 2
                    exact = numpy_vit(weights, cfg, raws[0], class_pos="first", n_run=cfg["n_layer"])
                    c["numpy_trained_vs_hf"] = max_rel(numpy_projector(weights, cfg, exact[1:], gelu="erf"), trained)
                    c["numpy_hidden_vs_hf_hidden"] = max_rel(exact, hidden[-1])
                    # llama.cpp's graph: class token appended, one layer fewer, rows 1..n_patches
                    for label, emul in (("exact", None), ("f16_emulated", qtypes)):
                        lc = numpy_vit(weights, cfg, raws[0], class_pos="last", n_run=cfg["n_layer"] - 1,
                                       f16_types=emul)[1:n_p + 1]
                        c[f"numpy_llama_cpp_graph_{label}_vs_mtmd"] = max_rel(numpy_projector(weights, cfg, lc, gelu="tanh"), emb)
                else:
                    s_grid = cfg["image_size"] // cfg["patch_size"]
                    for label, emul in (("exact", None), ("f16_emulated", qtypes)):
                        ys = [numpy_projector(weights, cfg, numpy_vit(weights, cfg, r, class_pos=None, n_run=cfg["n_layer"],
                                                                      f16_types=emul), gelu="tanh", grid=(s_grid, s_grid))
                              for r in raws]
                        c[f"numpy_{label}_vs_mtmd"] = max_rel(np.concatenate(ys), emb)
                        if label == "exact":
                            c["numpy_exact_vs_trained"] = max_rel(np.concatenate(ys), trained)
                case["checks"] = c
            entry["cases"].append(case)
            print(f"{proj['name']:16s} {im['name']:15s} tiles {len(raws)}  tokens {emb.shape[0]:3d}  "
                  f"max|emb| {np.abs(emb).max():6.3f}  trained vs mtmd {case['trained_vs_mtmd']:.2e}  "
                  + "  ".join(f"{k} {v:.1e}" for k, v in c.items()))

        # prompts: mtmd's chunk structure
        for prompt in PROMPTS[proj["group"]]:
            for im in images:
                chunks = mt.tokenize(prompt, im["rgb"])
                infos = [mt.describe(c) for c in mt.chunk_list(chunks)]
                mt.free_chunks(chunks)
                entry["prompts"].append(dict(prompt=prompt["name"], text=prompt["text"], image=im["name"],
                                             add_special=prompt["add_special"], parse_special=prompt["parse_special"],
                                             chunks=infos,
                                             n_positions=sum(len(i["tokens"]) if i["type"] == "text" else i["n_pos"]
                                                             for i in infos)))
        check_wrapping(entry)
        mt.close()
        run.close()
        projector_entries.append(entry)

    # the legacy and F16 files must agree with the F32 file (legacy: exactly)
    for im in images:
        a = mtmd_embeddings[("clip-mlp", im["name"])]
        assert np.array_equal(a, mtmd_embeddings[("clip-mlp-legacy", im["name"])]), "legacy swap changed the output"
        checks.setdefault("clip_mlp_f16_vs_f32_mtmd", {})[im["name"]] = max_rel(
            mtmd_embeddings[("clip-mlp-f16", im["name"])], a)

    # Pillow as an independent resampler: does it reproduce llama.cpp's resized bytes?
    if not args.quick:
        pil = {}
        for im in images:
            src = im["rgb"]
            pre = preprocess["mlp"][im["name"]]["_u8"][0]
            T_ = MLP_CFG["image_size"]
            h, w = src.shape[:2]
            scale = min(np.float32(T_) / np.float32(w), np.float32(T_) / np.float32(h))
            nw = min(int(np.ceil(np.float32(w) * scale)), T_)
            nh = min(int(np.ceil(np.float32(h) * scale)), T_)
            canvas = np.empty((T_, T_, 3), np.uint8)
            canvas[:] = (122, 116, 104)
            ox, oy = (T_ - nw) // 2, (T_ - nh) // 2
            entry = dict(fitted_size=[nw, nh], offset=[ox, oy])
            for label, fn in (("one_call", lambda a, size: pillow_resize_check(a, size, "bicubic")),
                              ("horizontal_then_vertical", lambda a, size: pillow_two_pass(a, size, "bicubic"))):
                c2 = canvas.copy()
                if (w, h) == (T_, T_):
                    c2 = src.copy()
                else:
                    c2[oy:oy + nh, ox:ox + nw] = fn(src, (nw, nh))
                diff = np.abs(c2.astype(int) - pre.astype(int))
                entry[label] = dict(max_abs_u8=int(diff.max()), n_differing=int((diff > 0).sum()))
            pil[f"mlp.{im['name']}"] = entry
            # idefics3: resized -> refined -> overview, all Lanczos
            L_, tile = IDEFICS3_CFG["preproc_image_size"], IDEFICS3_CFG["image_size"]
            if w >= h:
                rw, rh = L_, int(L_ / (w / h))
                rh += rh % 2
            else:
                rh, rw = L_, int(L_ * (w / h))
                rw += rw % 2
            gx, gy = -(-rw // tile), -(-rh // tile)
            entry = dict(resized_size=[rw, rh], grid=[gx, gy])
            got = preprocess["idefics3"][im["name"]]["_u8"]
            for label, fn in (("one_call", lambda a, size: pillow_resize_check(a, size, "lanczos")),
                              ("horizontal_then_vertical", lambda a, size: pillow_two_pass(a, size, "lanczos"))):
                resized = fn(src, (rw, rh)) if (rw, rh) != (w, h) else src
                refined = fn(resized, (gx * tile, gy * tile)) if (gx * tile, gy * tile) != (rw, rh) else resized
                overview = fn(refined, (tile, tile))
                tiles = [refined[y * tile:(y + 1) * tile, x * tile:(x + 1) * tile] for y in range(gy) for x in range(gx)]
                assert len(got) == len(tiles) + 1
                diff = np.abs(np.stack(tiles + [overview]).astype(int) - np.stack(got).astype(int))
                entry[label] = dict(max_abs_u8=int(diff.max()), n_differing=int((diff > 0).sum()))
            pil[f"idefics3.{im['name']}"] = entry
        checks["pillow_vs_llama_cpp_resized_u8"] = pil
        print("Pillow vs llama.cpp resized bytes, max |Δu8| (one call / horizontal then vertical): " + "  ".join(
            f"{k} {v['one_call']['max_abs_u8']}/{v['horizontal_then_vertical']['max_abs_u8']}" for k, v in pil.items()))

    # ---------------------------------------------------------------- end to end
    e2e = []
    for proj_name, image_name, prompt_name in END_TO_END:
        proj = next(p for p in PROJECTORS if p["name"] == proj_name)
        prompt = next(p for p in PROMPTS[proj["group"]] if p["name"] == prompt_name)
        im = next(i for i in images if i["name"] == image_name)
        results = {}
        for label, replacement in (("mtmd", None), ("trained", trained_embeddings[(proj_name, image_name)])):
            run = mmf.LlamaRun(text_path)
            mt = Mtmd(out / f"{proj_name}.gguf", run)
            chunks = mt.tokenize(prompt, im["rgb"])
            results[label] = eval_all_logits(run, mt, chunks, replacement)
            mt.free_chunks(chunks)
            mt.close()
            run.close()
        logits, layout = results["mtmd"]
        assert results["trained"][1] == layout
        helper = helper_last_logits(text_path, out / f"{proj_name}.gguf", prompt, im["rgb"])
        stem = f"e2e.{proj_name}.{image_name}.{prompt_name}"
        e2e.append(dict(projector=proj_name, image=image_name, prompt=prompt_name,
                        logits_mtmd=save_bin(f"{stem}.mtmd.logits.f32.bin", logits),
                        logits_trained=save_bin(f"{stem}.trained.logits.f32.bin", results["trained"][0]),
                        logits_shape=list(logits.shape), layout=layout,
                        trained_vs_mtmd=max_rel(logits, results["trained"][0]),
                        helper_last_vs_manual_last=max_rel(logits[-1], helper),
                        logits_max_abs=float(np.abs(logits).max())))
        print(f"e2e {proj_name} {image_name} {prompt_name}: {logits.shape[0]} positions, "
              f"mtmd_helper_eval_chunks last logits vs manual {e2e[-1]['helper_last_vs_manual_last']:.1e}, "
              f"trained-embedding logits vs mtmd-embedding logits {e2e[-1]['trained_vs_mtmd']:.1e}")

    # ---------------------------------------------------------------- references.json
    for group in preprocess.values():
        for v in group.values():
            v.pop("_raws"), v.pop("_u8")
    special_ids = {t: tokens.index(t) for t in EXTRA_SPECIALS + mmf.SPECIALS}
    references = dict(
        generator="Scripts/make_vision_fixtures.py",
        seed=SEED,
        versions=dict(llama_cpp_python=llama_cpp.__version__, gguf_py=getattr(gguf, "__version__", "0.19.0"),
                      torch=torch.__version__, transformers=transformers.__version__),
        mtmd_settings=dict(use_gpu=False, flash_attn_type="disabled", warmup=False, n_threads=N_THREADS,
                           media_marker=MEDIA_MARKER),
        text_settings=dict(type_k="f32", type_v="f32", flash_attn="disabled", n_ctx=mmf.CONTEXT_LENGTH,
                           n_threads=N_THREADS, use_extra_bufts=False),
        tolerance=TOLERANCE,
        text_model=dict(file=text_path.name, arch=TEXT_FX["arch"], n_embd=n_embd_text, n_layer=TEXT_FX["n_layer"],
                        n_head=TEXT_FX["n_head"], n_head_kv=TEXT_FX["n_head_kv"], n_ff=TEXT_FX["n_ff"],
                        n_vocab=len(tokens), tied=TEXT_FX["tied"], special_tokens=special_ids,
                        newline_id=tokens.index("\u010a"), double_newline_id=tokens.index("\u010a\u010a")),
        images=[dict(name=im["name"], png=f"{im['name']}.png", rgb=f"{im['name']}.rgb",
                     width=im["width"], height=im["height"]) for im in images],
        preprocess=dict(
            mlp=dict(algorithm="fit inside image_size x image_size: scale = min(T/W, T/H) in f32, "
                               "new = min(ceil(W*scale), T) (and H), Pillow-style bicubic a=-0.5 "
                               "(horizontal pass first, u8 between passes), centred at ((T-new_w)/2, (T-new_h)/2) "
                               "(integer division) on colour (122,116,104); a T x T image is copied unchanged",
                     cases=preprocess["mlp"]),
            idefics3=dict(algorithm="resize so the long side is preproc_image_size L (other side = "
                                    "int(L / (W/H)) or int(L * (W/H)) in double, plus 1 if odd), Lanczos-3; "
                                    "stretch to (ceil(w/tile)*tile, ceil(h/tile)*tile), Lanczos-3; tiles cut "
                                    "row-major from that; overview = the stretched image resized to tile x tile, "
                                    "Lanczos-3. Each resize is skipped (copy) when the size is unchanged.",
                          cases=preprocess["idefics3"]),
        ),
        media_wrapping=MEDIA_WRAPPING,
        projectors=projector_entries,
        end_to_end=e2e,
        checks=checks,
    )
    (out / "references.json").write_text(json.dumps(references, indent=1) + "\n")
    written.append(out / "references.json")
    total = sum(p.stat().st_size for p in set(written))
    print(f"total {total / 1e6:.2f} MB in {len(set(written))} files in {out}")


if __name__ == "__main__":
    sys.exit(main())
