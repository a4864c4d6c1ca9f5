#!/usr/bin/env python3
"""Write a random-weight model shaped like Llama-3.2-11B-Vision for `Scripts/bench_mllama.py`.

Writes OUT.gguf (architecture mllama: 40 text layers, 8 of them cross-attention, width 4096,
Llama 3's 128256-token vocabulary shape) in llama.cpp's Q4_K_M mix (Q4_K weights; Q6_K for
`output` and for attn_v/ffn_down in the layers llama.cpp gives more bits), and
mmproj-OUT.gguf (the vision tower: width 1280, 32 local + 8 global layers, 4 tiles of 560,
F16 weights). The blocks are random but well formed (finite scales), so every kernel runs at
its real cost; the outputs mean nothing. Tensors are streamed one at a time.

The vocabulary is the 256 byte tokens, fillers, and Llama 3's special tokens at their ids, so
`ponder ask` can tokenize (every character becomes a byte token).

Usage:  python3 Scripts/make_mllama_bench_model.py OUT.gguf
Needs:  numpy, gguf (pip).  Takes a few minutes and about 8.5 GB of disk.
"""
import math
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

TEXT = dict(d=4096, ff=14336, layers=40, cross=[3, 8, 13, 18, 23, 28, 33, 38], heads=32, kv=8, vocab=128256, ctx=131072)
VISION = dict(d=1280, ff=5120, layers=32, global_layers=8, heads=16, image=560, patch=14, tiles=4,
              intermediate=[3, 7, 15, 23, 30])
rng = np.random.default_rng(7)


def q4k(rows, cols):
    """Random Q4_K blocks: f16 d and dmin small, random 6-bit scales and nibbles."""
    blocks = rows * cols // 256
    b = rng.integers(0, 256, size=(blocks, 144), dtype=np.uint8)
    d = np.full(blocks, 0.002, dtype=np.float16).view(np.uint8).reshape(blocks, 2)
    m = np.full(blocks, 0.001, dtype=np.float16).view(np.uint8).reshape(blocks, 2)
    b[:, 0:2], b[:, 2:4] = d, m
    return b.reshape(rows, cols // 256 * 144)


def q6k(rows, cols):
    blocks = rows * cols // 256
    b = rng.integers(0, 256, size=(blocks, 210), dtype=np.uint8)
    b[:, 192:208] = rng.integers(-8, 8, size=(blocks, 16), dtype=np.int8).view(np.uint8)
    b[:, 208:210] = np.full(blocks, 0.0005, dtype=np.float16).view(np.uint8).reshape(blocks, 2)
    return b.reshape(rows, cols // 256 * 210)


def f16(shape, scale):
    return (rng.standard_normal(size=shape, dtype=np.float32) * scale).astype(np.float16)


def f32(shape, value=None, scale=0.02):
    if value is not None:
        return np.full(shape, value, dtype=np.float32)
    return (rng.standard_normal(size=shape, dtype=np.float32) * scale).astype(np.float32)


def more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


class Stream:
    """Two passes over the same tensor list: infos first, then data, one tensor at a time."""

    def __init__(self, path, arch):
        self.writer = gguf.GGUFWriter(path, arch)
        self.makers = []

    def tensor(self, name, shape, dtype, make):
        # shape in numpy order (rows, cols); raw quant bytes given with their ggml type
        self.makers.append((name, shape, dtype, make))
        nbytes = {T.Q4_K: 144, T.Q6_K: 210}.get(dtype)
        if nbytes:
            raw_shape = (shape[0], shape[1] // 256 * nbytes)
            self.writer.add_tensor_info(name, raw_shape, np.dtype(np.uint8), raw_shape[0] * raw_shape[1], raw_dtype=dtype)
        else:
            np_dtype = np.float16 if dtype == T.F16 else np.float32
            self.writer.add_tensor_info(name, shape, np.dtype(np_dtype), int(np.prod(shape)) * np.dtype(np_dtype).itemsize,
                                        raw_dtype=dtype)

    def finish(self):
        w = self.writer
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        for i, (name, shape, dtype, make) in enumerate(self.makers):
            w.write_tensor_data(make())
            print(f"\r{w.path if hasattr(w, 'path') else ''} {i + 1}/{len(self.makers)} {name}            ", end="", file=sys.stderr)
        print(file=sys.stderr)
        w.close()


def text_model(path):
    t = TEXT
    s = Stream(path, "mllama")
    w = s.writer
    d, ff, hd = t["d"], t["ff"], t["d"] // t["heads"]
    kv = t["kv"] * hd
    w.add_uint32("mllama.block_count", t["layers"])
    w.add_uint32("mllama.context_length", t["ctx"])
    w.add_uint32("mllama.embedding_length", d)
    w.add_uint32("mllama.feed_forward_length", ff)
    w.add_uint32("mllama.attention.head_count", t["heads"])
    w.add_uint32("mllama.attention.head_count_kv", t["kv"])
    w.add_float32("mllama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_float32("mllama.rope.freq_base", 500000.0)
    w.add_uint32("mllama.rope.dimension_count", hd)
    w.add_uint32("mllama.vocab_size", t["vocab"])
    w.add_array("mllama.attention.cross_attention_layers", t["cross"])
    w.add_uint32("general.file_type", 15)  # MOSTLY_Q4_K_M
    # Vocabulary: byte tokens, fillers, Llama 3's specials (128000...), <|image|> = 128256.
    # GPT-2's bytes-to-unicode alphabet (gguf has no public helper for it).
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    space = chr(cs[bs.index(ord(" "))])
    tokens = [chr(c) for c in cs] + [space + space] + [f"<filler_{i}>" for i in range(257, 128000)]
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
                "<|eot_id|>", "<|python_tag|>"]
    specials += [f"<|reserved_special_token_{i}|>" for i in range(2, 2 + 256 - len(specials))]
    tokens += specials + ["<|image|>"]
    types = [1] * 128000 + [3] * (len(tokens) - 128000)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([f"{space} {space}"])
    w.add_bos_token_id(128000)
    w.add_eos_token_id(128009)
    w.add_add_bos_token(True)
    w.add_chat_template("{{ '<|start_header_id|>' }}")  # llama3 family by its markers
    s.tensor("rope_freqs.weight", (hd // 2,), T.F32, lambda: f32((hd // 2,), 1.0))
    s.tensor("token_embd.weight", (t["vocab"] + 8, d), T.Q4_K, lambda: q4k(t["vocab"] + 8, d))
    for i in range(t["layers"]):
        b = f"blk.{i}."
        big = more_bits(i, t["layers"])
        s.tensor(b + "attn_norm.weight", (d,), T.F32, lambda: f32((d,), 1.0))
        s.tensor(b + "ffn_norm.weight", (d,), T.F32, lambda: f32((d,), 1.0))
        if i in t["cross"]:
            s.tensor(b + "cross_attn_q_proj.weight", (d, d), T.Q4_K, lambda: q4k(d, d))
            s.tensor(b + "cross_attn_k_proj.weight", (kv, d), T.Q4_K, lambda: q4k(kv, d))
            s.tensor(b + "cross_attn_v_proj.weight", (kv, d), T.Q6_K if big else T.Q4_K,
                     (lambda: q6k(kv, d)) if big else (lambda: q4k(kv, d)))
            s.tensor(b + "cross_attn_o_proj.weight", (d, d), T.Q4_K, lambda: q4k(d, d))
            s.tensor(b + "cross_attn_q_norm.weight", (hd,), T.F32, lambda: f32((hd,), 1.0))
            s.tensor(b + "cross_attn_k_norm.weight", (hd,), T.F32, lambda: f32((hd,), 1.0))
            s.tensor(b + "cross_attn_attn_gate", (1,), T.F32, lambda: f32((1,), 0.5))
            s.tensor(b + "cross_attn_mlp_gate", (1,), T.F32, lambda: f32((1,), 0.5))
        else:
            s.tensor(b + "attn_q.weight", (d, d), T.Q4_K, lambda: q4k(d, d))
            s.tensor(b + "attn_k.weight", (kv, d), T.Q4_K, lambda: q4k(kv, d))
            s.tensor(b + "attn_v.weight", (kv, d), T.Q6_K if big else T.Q4_K,
                     (lambda: q6k(kv, d)) if big else (lambda: q4k(kv, d)))
            s.tensor(b + "attn_output.weight", (d, d), T.Q4_K, lambda: q4k(d, d))
        s.tensor(b + "ffn_gate.weight", (ff, d), T.Q4_K, lambda: q4k(ff, d))
        s.tensor(b + "ffn_up.weight", (ff, d), T.Q4_K, lambda: q4k(ff, d))
        s.tensor(b + "ffn_down.weight", (d, ff), T.Q6_K if big else T.Q4_K,
                 (lambda: q6k(d, ff)) if big else (lambda: q4k(d, ff)))
    s.tensor("output_norm.weight", (d,), T.F32, lambda: f32((d,), 1.0))
    s.tensor("output.weight", (t["vocab"], d), T.Q6_K, lambda: q6k(t["vocab"], d))
    s.finish()


def vision_model(path):
    v = VISION
    s = Stream(path, "mllama")
    w = s.writer
    d, ff = v["d"], v["ff"]
    k = "mllama.vision."
    w.add_string("general.type", "mmproj")
    w.add_uint32(k + "block_count", v["layers"])
    w.add_uint32(k + "global.block_count", v["global_layers"])
    w.add_uint32(k + "embedding_length", d)
    w.add_uint32(k + "feed_forward_length", ff)
    w.add_uint32(k + "attention.head_count", v["heads"])
    w.add_float32(k + "attention.layer_norm_epsilon", 1e-5)
    w.add_uint32(k + "image_size", v["image"])
    w.add_uint32(k + "patch_size", v["patch"])
    w.add_uint32(k + "max_num_tiles", v["tiles"])
    w.add_uint32(k + "num_channels", 3)
    w.add_array(k + "intermediate_layers_indices", v["intermediate"])
    w.add_uint32(k + "projection_dim", TEXT["d"])
    n = (v["image"] // v["patch"]) ** 2 + 1
    ratios = 9
    out = d * (len(v["intermediate"]) + 1)
    sd = 1 / math.sqrt(d)
    s.tensor("v.patch_embd.weight", (d, 3, v["patch"], v["patch"]), T.F16, lambda: f16((d, 3, v["patch"], v["patch"]), 0.02))
    s.tensor("v.class_embd", (d,), T.F32, lambda: f32((d,)))
    s.tensor("v.position_embd.weight", (n, d), T.F32, lambda: f32((n, d)))
    s.tensor("v.position_embd.gate", (1,), T.F32, lambda: f32((1,), 0.5))
    s.tensor("v.tile_position_embd.weight", (ratios, v["tiles"] * n * d), T.F16, lambda: f16((ratios, v["tiles"] * n * d), 0.02))
    s.tensor("v.tile_position_embd.gate", (1,), T.F32, lambda: f32((1,), 0.5))
    for side in ["pre", "post"]:
        s.tensor(f"v.{side}_tile_position_embd.weight", (ratios, v["tiles"] * d), T.F16, lambda: f16((ratios, v["tiles"] * d), 0.02))
        s.tensor(f"v.{side}_tile_position_embd.gate", (1,), T.F32, lambda: f32((1,), 0.5))
        s.tensor(f"v.{side}_ln.weight", (d,), T.F32, lambda: f32((d,), 1.0))
        s.tensor(f"v.{side}_ln.bias", (d,), T.F32, lambda: f32((d,)))
    for prefix, count in [("v.blk.", v["layers"]), ("v.global.blk.", v["global_layers"])]:
        for i in range(count):
            b = f"{prefix}{i}."
            for norm in ["attn_norm", "ffn_norm"]:
                s.tensor(b + norm + ".weight", (d,), T.F32, lambda: f32((d,), 1.0))
                s.tensor(b + norm + ".bias", (d,), T.F32, lambda: f32((d,)))
            for name in ["attn_q", "attn_k", "attn_v", "attn_output"]:
                s.tensor(b + name + ".weight", (d, d), T.F16, lambda: f16((d, d), sd))
            s.tensor(b + "ffn_up.weight", (ff, d), T.F16, lambda: f16((ff, d), sd))
            s.tensor(b + "ffn_up.bias", (ff,), T.F32, lambda: f32((ff,)))
            s.tensor(b + "ffn_down.weight", (d, ff), T.F16, lambda: f16((d, ff), 1 / math.sqrt(ff)))
            s.tensor(b + "ffn_down.bias", (d,), T.F32, lambda: f32((d,)))
            if prefix == "v.global.blk.":
                s.tensor(b + "attn_gate", (1,), T.F32, lambda: f32((1,), 0.5))
                s.tensor(b + "ffn_gate", (1,), T.F32, lambda: f32((1,), 0.5))
    s.tensor("mm.0.weight", (TEXT["d"], out), T.F16, lambda: f16((TEXT["d"], out), 1 / math.sqrt(out)))
    s.tensor("mm.0.bias", (TEXT["d"],), T.F32, lambda: f32((TEXT["d"],)))
    s.finish()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    folder, name = os.path.split(os.path.abspath(out))
    vision_model(os.path.join(folder, "mmproj-" + name))
    text_model(out)
