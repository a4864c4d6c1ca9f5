#!/usr/bin/env python3
"""Build the text-model parity fixtures for Ponder's Inference tests.

Writes small random-weight `llama` and `qwen2` GGUF models (seeded, deterministic) and
takes reference logits from llama.cpp (llama-cpp-python's low-level API):

  * F32 and F16 models: logits at every position of a fixed prompt, and a greedy
    continuation of GREEDY_TOKENS tokens (argmax of llama.cpp's logits, one token at a
    time after the prompt), with the top-1/top-2 margin of every step.
  * Quantized models (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K; quantized by llama.cpp's own
    `ggml_quantize_chunk`): logits of the quantized model and of its dequantized-f32
    twin (`gguf.quants.dequantize` of every tensor; the twin is written to a temporary
    directory and not committed), plus llama.cpp's own error against the twin.

llama.cpp settings for every reference: f32 K and V cache, flash attention off, weight
repacking off (`use_extra_bufts = false`), one sequence, the whole prompt in one batch
with logits requested for every position. Unless `--quick`, the script also checks that
the context reports an f32 KV cache, measures how much each of those settings would move
the logits, and runs an independent float64 numpy forward pass (a cross-check of rope
pairing, rope_freqs, biases, GQA and tied output, never a reference), all stored under
`settings_effect` in references.json.

Output (Tests/InferenceTests/Fixtures/models/):
  <name>.gguf                   the model
  <name>.logits.bin             llama.cpp logits of the model, raw little-endian f32,
                                [n_positions x n_vocab], row = position
  <name>.twin.logits.bin        (quantized only) llama.cpp logits of the f32 twin
  <name>.f32-weights.logits.bin (F16 only, informational) llama.cpp logits of the same
                                weights stored as F32 (F16 matmuls in llama.cpp round
                                their activations to f16; this file does not)
  references.json               fixture list, prompt ids, greedy continuations, stats

Usage:  python3 Scripts/make_model_fixtures.py [--out DIR] [--quick]
"""
from __future__ import annotations

import argparse
import ctypes
import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

SEED = 20240715
N_VOCAB = 320
# At least 100 positions, so that the quantized bound "argmax agreement >= llama.cpp's - 1
# point" leaves room for one position.
N_PROMPT = 100
GREEDY_TOKENS = 32
CONTEXT_LENGTH = 256
N_THREADS = 2
LOGIT_TOLERANCE = 1e-3  # F32/F16 parity bound: max|Δ| / max|reference|
GREEDY_MARGIN = 2.0     # greedy margins >= this x the bound, in absolute logits

# Each type, both architectures, GQA on and off, tied and untied output appear at least
# once. K-quant rows must be multiples of 256, so the quantized models are 256 wide.
FIXTURES = [
    dict(name="llama-f32", arch="llama", type="F32", n_embd=64, n_layer=2, n_head=4, n_head_kv=2,
         n_ff=192, tied=False, rope_base=10000.0),
    dict(name="qwen2-f32", arch="qwen2", type="F32", n_embd=64, n_layer=2, n_head=4, n_head_kv=4,
         n_ff=192, tied=True, rope_base=1000000.0),
    dict(name="llama-f16", arch="llama", type="F16", n_embd=128, n_layer=2, n_head=4, n_head_kv=4,
         n_ff=256, tied=True, rope_base=500000.0, rope_freqs=True),
    dict(name="qwen2-f16", arch="qwen2", type="F16", n_embd=128, n_layer=2, n_head=8, n_head_kv=2,
         n_ff=256, tied=False, rope_base=10000.0),
    dict(name="llama-q8_0", arch="llama", type="Q8_0", n_embd=256, n_layer=1, n_head=4, n_head_kv=2,
         n_ff=512, tied=False, rope_base=10000.0),
    dict(name="qwen2-q4_0", arch="qwen2", type="Q4_0", n_embd=256, n_layer=2, n_head=4, n_head_kv=4,
         n_ff=256, tied=True, rope_base=1000000.0),
    dict(name="llama-q4_k", arch="llama", type="Q4_K", n_embd=256, n_layer=2, n_head=4, n_head_kv=4,
         n_ff=256, tied=True, rope_base=500000.0, rope_freqs=True),
    dict(name="qwen2-q5_k", arch="qwen2", type="Q5_K", n_embd=256, n_layer=1, n_head=4, n_head_kv=2,
         n_ff=512, tied=False, rope_base=10000.0),
    dict(name="llama-q6_k", arch="llama", type="Q6_K", n_embd=256, n_layer=1, n_head=4, n_head_kv=1,
         n_ff=512, tied=False, rope_base=10000.0),
    # The types real Q2_K/Q3_K mixes and published IQ4 files carry (appended: the weights of a
    # fixture are drawn from its index, so the ones above keep theirs).
    dict(name="llama-q2_k", arch="llama", type="Q2_K", n_embd=256, n_layer=1, n_head=4, n_head_kv=2,
         n_ff=512, tied=False, rope_base=10000.0),
    dict(name="qwen2-q3_k", arch="qwen2", type="Q3_K", n_embd=256, n_layer=2, n_head=4, n_head_kv=4,
         n_ff=256, tied=True, rope_base=1000000.0),
    dict(name="llama-iq4_nl", arch="llama", type="IQ4_NL", n_embd=256, n_layer=1, n_head=4, n_head_kv=4,
         n_ff=512, tied=True, rope_base=500000.0),
    dict(name="qwen2-iq4_xs", arch="qwen2", type="IQ4_XS", n_embd=256, n_layer=1, n_head=4, n_head_kv=2,
         n_ff=512, tied=False, rope_base=10000.0),
]

FLOAT_TYPES = {"F32": T.F32, "F16": T.F16}
QUANT_TYPES = {"Q8_0": T.Q8_0, "Q4_0": T.Q4_0, "Q4_K": T.Q4_K, "Q5_K": T.Q5_K, "Q6_K": T.Q6_K,
               "Q2_K": T.Q2_K, "Q3_K": T.Q3_K, "IQ4_NL": T.IQ4_NL, "IQ4_XS": T.IQ4_XS}
FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K": 15, "Q5_K": 17, "Q6_K": 18,
              "Q2_K": 10, "Q3_K": 12, "IQ4_NL": 25, "IQ4_XS": 30}

RELATIVE_RMS_DEFINITION = (
    "sqrt(mean((a - twin)^2)) / sqrt(mean(twin^2)), means over every position and every "
    "vocabulary entry, where a is the logits under test and twin the llama.cpp logits of the "
    "dequantized-f32 twin")
ARGMAX_DEFINITION = ("fraction of positions p with argmax(a[p]) == argmax(twin[p]) "
                     "(first index on ties)")


# --------------------------------------------------------------------------- vocabulary

SAMPLE_TEXT = """
Ponder is a terminal app for chatting with a local vision language model about an image.
The model answers in four stages, each wrapped in a plain text tag: a summary of how it will
approach the question, a caption of what in the image matters, step by step reasoning, and
the conclusion the user sees. At every stage the model samples several candidate
continuations, and a judge keeps the best one, which becomes the prefix for the next stage.
The candidates of a stage decode as one batch over a shared prompt cache. There are three
red circles and two blue squares on the table; the green triangle is left of the square.
What colour is the largest shape? How many shapes touch the border of the picture?
"""


def bytes_to_unicode() -> dict[int, str]:
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]


def make_vocabulary(n_vocab: int) -> tuple[list[str], list[int], list[str]]:
    """A byte-level BPE vocabulary of exactly n_vocab tokens: 256 byte tokens, merges
    learnt from SAMPLE_TEXT by plain BPE (most frequent pair first, ties broken by the
    pair itself), then the special tokens."""
    b2u = bytes_to_unicode()
    words = re.findall(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", SAMPLE_TEXT)
    counts = Counter("".join(b2u[b] for b in w.encode()) for w in words)
    seqs = {w: list(w) for w in counts}
    tokens = [b2u[b] for b in range(256)]
    merges: list[str] = []
    n_merges = n_vocab - 256 - len(SPECIALS)
    while len(merges) < n_merges:
        pairs: Counter = Counter()
        for w, seq in seqs.items():
            for a, b in zip(seq, seq[1:]):
                pairs[(a, b)] += counts[w]
        if not pairs:
            break
        (a, b), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        merges.append(f"{a} {b}")
        tokens.append(a + b)
        for w, seq in seqs.items():
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[w] = out
    assert len(merges) == n_merges, "sample text too short for the vocabulary size"
    tokens += SPECIALS
    types = [3 if t in SPECIALS else 1 for t in tokens]
    assert len(tokens) == n_vocab and len(set(tokens)) == n_vocab
    return tokens, types, merges


# --------------------------------------------------------------------------- weights

def llama3_rope_factors(n_rot: int, base: float) -> np.ndarray:
    """Per-dimension frequency divisors as Llama 3.1's rope scaling computes them, with a
    small original context so that every regime (1, smooth, factor) occurs at n_rot/2."""
    factor, low_freq_factor, high_freq_factor, old_ctx = 8.0, 1.0, 4.0, 64
    low_wavelen, high_wavelen = old_ctx / low_freq_factor, old_ctx / high_freq_factor
    out = []
    for i in range(n_rot // 2):
        freq = base ** (-2.0 * i / n_rot)
        wavelen = 2 * np.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def make_weights(fx: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Float32 weights, numpy shape [rows, cols] = GGUF dims {cols, rows}. Scales keep
    activations near unit size so that attention and logits are far from flat."""
    d, ff, nv = fx["n_embd"], fx["n_ff"], N_VOCAB
    hd = d // fx["n_head"]
    kv = hd * fx["n_head_kv"]

    def linear(rows, cols, gain=1.0):
        return (rng.standard_normal((rows, cols)) * gain / np.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def bias(n, scale):
        return (scale * rng.standard_normal(n)).astype(np.float32)

    w: dict[str, np.ndarray] = {}
    # Embedding rows of norm ~1.5, small against the blocks' outputs: with a tied output a
    # large embedding would make every position predict its own input token.
    w["token_embd.weight"] = (rng.standard_normal((nv, d)) * 1.5 / np.sqrt(d)).astype(np.float32)
    if fx.get("rope_freqs"):
        w["rope_freqs.weight"] = llama3_rope_factors(hd, fx["rope_base"])
    for i in range(fx["n_layer"]):
        p = f"blk.{i}."
        w[p + "attn_norm.weight"] = norm(d)
        w[p + "attn_q.weight"] = linear(d, d, 1.5)
        w[p + "attn_k.weight"] = linear(kv, d, 1.5)
        w[p + "attn_v.weight"] = linear(kv, d)
        if fx["arch"] == "qwen2":
            w[p + "attn_q.bias"] = bias(d, 0.5)
            w[p + "attn_k.bias"] = bias(kv, 0.5)
            w[p + "attn_v.bias"] = bias(kv, 0.2)
        w[p + "attn_output.weight"] = linear(d, d, 1.5)
        w[p + "ffn_norm.weight"] = norm(d)
        w[p + "ffn_gate.weight"] = linear(ff, d)
        w[p + "ffn_up.weight"] = linear(ff, d)
        w[p + "ffn_down.weight"] = linear(d, ff, 2.0)
    w["output_norm.weight"] = 2.5 * norm(d)  # spreads the logits (std ~4)
    if not fx["tied"]:
        w["output.weight"] = linear(nv, d, 1.5)
    return w


# --------------------------------------------------------------------------- quantization

def load_ggml_base() -> ctypes.CDLL:
    import llama_cpp  # only to locate the bundled shared libraries

    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
    ]
    lib.ggml_quantize_init.restype = None
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    return lib


def quantize(lib: ctypes.CDLL, qtype: T, data: np.ndarray) -> np.ndarray:
    """llama.cpp's quantizer (what llama-quantize calls), no importance matrix."""
    rows, cols = data.shape
    lib.ggml_quantize_init(int(qtype))
    row_size = lib.ggml_row_size(int(qtype), cols)
    src = np.ascontiguousarray(data, dtype=np.float32)
    dst = np.zeros((rows, row_size), dtype=np.uint8)
    written = lib.ggml_quantize_chunk(int(qtype), src.ctypes.data, dst.ctypes.data, 0, rows, cols, None)
    assert written == dst.nbytes
    return dst


def stored_tensors(fx: dict, weights: dict[str, np.ndarray], lib) -> dict[str, tuple[np.ndarray, T]]:
    """The tensors as stored: 2-D weights in the fixture's type, 1-D tensors in F32 (as
    llama.cpp's converter and quantizer leave norms, biases and rope factors)."""
    out = {}
    for name, value in weights.items():
        if value.ndim == 1 or fx["type"] == "F32":
            out[name] = (value, T.F32)
        elif fx["type"] == "F16":
            out[name] = (value.astype(np.float16), T.F16)
        else:
            qtype = QUANT_TYPES[fx["type"]]
            out[name] = (quantize(lib, qtype, value), qtype)
    return out


def dequantized_twin(tensors: dict[str, tuple[np.ndarray, T]]) -> dict[str, tuple[np.ndarray, T]]:
    out = {}
    for name, (raw, qtype) in tensors.items():
        value = gguf.quants.dequantize(raw, qtype).astype(np.float32)
        out[name] = (value, T.F32)
    return out


def write_gguf(path: Path, fx: dict, tensors: dict[str, tuple[np.ndarray, T]], vocab, file_type: str):
    tokens, types, merges = vocab
    d = fx["n_embd"]
    w = gguf.GGUFWriter(str(path), fx["arch"])
    w.add_name(f"ponder-parity-{fx['name']}")
    w.add_file_type(FILE_TYPES[file_type])
    w.add_context_length(CONTEXT_LENGTH)
    w.add_embedding_length(d)
    w.add_block_count(fx["n_layer"])
    w.add_feed_forward_length(fx["n_ff"])
    w.add_head_count(fx["n_head"])
    w.add_head_count_kv(fx["n_head_kv"])
    w.add_layer_norm_rms_eps(1e-5 if fx["arch"] == "llama" else 1e-6)
    w.add_rope_dimension_count(d // fx["n_head"])
    w.add_rope_freq_base(fx["rope_base"])
    w.add_vocab_size(N_VOCAB)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|begin_of_text|>"))
    w.add_eos_token_id(tokens.index("<|end_of_text|>"))
    w.add_eot_token_id(tokens.index("<|eot_id|>"))
    w.add_add_bos_token(True)
    for name, (data, qtype) in tensors.items():
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# --------------------------------------------------------------------------- llama.cpp

_LOG_LINES: list[str] = []


def _install_logger():
    import llama_cpp

    @llama_cpp.llama_log_callback
    def log(level, text, user_data):
        _LOG_LINES.append(text.decode("utf-8", "replace"))

    _install_logger.keep = log  # keep the callback alive
    llama_cpp.llama_log_set(log, ctypes.c_void_p(0))


class LlamaRun:
    """One llama.cpp model and context with the reference settings (or a variant)."""

    def __init__(self, path: Path, *, kv_f16=False, flash_attn=False, repack=False, n_ctx=CONTEXT_LENGTH):
        import llama_cpp as L

        self.L = L
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        mp.use_extra_bufts = repack
        self.model = L.llama_model_load_from_file(str(path).encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path}")
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_ctx
        cp.n_ubatch = n_ctx
        cp.n_seq_max = 1
        cp.n_threads = N_THREADS
        cp.n_threads_batch = N_THREADS
        cp.type_k = 1 if kv_f16 else 0   # GGML_TYPE_F16 / GGML_TYPE_F32
        cp.type_v = 1 if kv_f16 else 0
        cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else L.LLAMA_FLASH_ATTN_TYPE_DISABLED
        _LOG_LINES.clear()
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self.init_log = "".join(_LOG_LINES)
        self.n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(self.model))
        self.n_past = 0

    def decode(self, token_ids: list[int]) -> np.ndarray:
        """Appends tokens to sequence 0 in one batch; returns logits of every one."""
        L = self.L
        n = len(token_ids)
        batch = L.llama_batch_init(n, 0, 1)
        try:
            for i, t in enumerate(token_ids):
                batch.token[i] = t
                batch.pos[i] = self.n_past + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 1
            batch.n_tokens = n
            rc = L.llama_decode(self.ctx, batch)
            assert rc == 0, f"llama_decode returned {rc}"
        finally:
            L.llama_batch_free(batch)
        self.n_past += n
        out = np.empty((n, self.n_vocab), dtype=np.float32)
        for i in range(n):
            ptr = L.llama_get_logits_ith(self.ctx, i)
            out[i] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
        return out

    def close(self):
        self.L.llama_free(self.ctx)
        self.L.llama_model_free(self.model)


def prompt_logits(path: Path, prompt: list[int], **variant) -> np.ndarray:
    run = LlamaRun(path, **variant)
    try:
        return run.decode(prompt)
    finally:
        run.close()


def greedy(path: Path, prompt: list[int], n: int) -> tuple[list[int], list[float]]:
    run = LlamaRun(path)
    try:
        logits = run.decode(prompt)[-1]
        tokens, margins = [], []
        for _ in range(n):
            order = np.argsort(-logits, kind="stable")
            tokens.append(int(order[0]))
            margins.append(float(logits[order[0]] - logits[order[1]]))
            logits = run.decode([tokens[-1]])[0]
        return tokens, margins
    finally:
        run.close()


def relative_rms(a: np.ndarray, ref: np.ndarray) -> float:
    a64, r64 = a.astype(np.float64), ref.astype(np.float64)
    return float(np.sqrt(np.mean((a64 - r64) ** 2)) / np.sqrt(np.mean(r64 ** 2)))


def argmax_agreement(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.mean(np.argmax(a, axis=1) == np.argmax(ref, axis=1)))


def max_relative(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - ref)) / np.max(np.abs(ref)))


# --------------------------------------------------------------------------- main

def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=repo / "Tests/InferenceTests/Fixtures/models")
    parser.add_argument("--quick", action="store_true",
                        help="skip the checks (settings effects, numpy cross-check) stored under "
                             "settings_effect in references.json")
    parser.add_argument("--only", help="comma-separated fixture names: make only these and replace their "
                                           "entries in the existing references.json, keeping the others")
    args = parser.parse_args()
    args.verify = not args.quick
    only = set(args.only.split(",")) if args.only else None
    if only and not only <= {fx["name"] for fx in FIXTURES}:
        raise SystemExit(f"--only: unknown fixtures {sorted(only - {fx['name'] for fx in FIXTURES})}")
    args.out.mkdir(parents=True, exist_ok=True)

    import llama_cpp
    llama_cpp.llama_backend_init()
    _install_logger()
    lib = load_ggml_base()
    vocab = make_vocabulary(N_VOCAB)
    bos = vocab[0].index("<|begin_of_text|>")

    prompt_rng = np.random.default_rng(SEED)
    prompt = [bos] + [int(t) for t in prompt_rng.integers(0, N_VOCAB - len(SPECIALS), N_PROMPT - 1)]

    entries, total_bytes = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, fx in enumerate(FIXTURES):
            if only and fx["name"] not in only:
                continue
            model_path = args.out / f"{fx['name']}.gguf"
            # Float models: redraw the weights (salt 0, 1, ...) until every greedy step's
            # top-1/top-2 margin is at least GREEDY_MARGIN x the logit tolerance, so that a
            # continuation within tolerance cannot flip a token.
            for salt in range(100):
                rng = np.random.default_rng([SEED, index, salt])
                weights = make_weights(fx, rng)
                tensors = stored_tensors(fx, weights, lib)
                write_gguf(model_path, fx, tensors, vocab, fx["type"])
                logits = prompt_logits(model_path, prompt)
                if fx["type"] not in FLOAT_TYPES:
                    break
                tokens, margins = greedy(model_path, prompt, GREEDY_TOKENS)
                if min(margins) >= GREEDY_MARGIN * LOGIT_TOLERANCE * np.max(np.abs(logits)):
                    break
            else:
                raise RuntimeError(f"{fx['name']}: no weights with clear greedy margins")
            assert np.all(np.isfinite(logits))
            logits_file = f"{fx['name']}.logits.bin"
            logits.astype("<f4").tofile(args.out / logits_file)

            entry = dict(
                name=fx["name"], file=model_path.name, arch=fx["arch"], type=fx["type"],
                n_embd=fx["n_embd"], n_layer=fx["n_layer"], n_head=fx["n_head"],
                n_head_kv=fx["n_head_kv"], n_ff=fx["n_ff"], n_vocab=N_VOCAB,
                gqa=fx["n_head_kv"] != fx["n_head"], tied=fx["tied"],
                rope_freq_base=fx["rope_base"], rope_freqs=bool(fx.get("rope_freqs")),
                tensor_types=sorted({q.name for _, q in tensors.values()}),
                logits=logits_file, logits_shape=[len(prompt), N_VOCAB],
                logits_max_abs=float(np.max(np.abs(logits))),
                logits_rms=float(np.sqrt(np.mean(logits.astype(np.float64) ** 2))),
            )
            top2 = np.sort(logits, axis=1)[:, -2:]
            entry["min_top2_margin"] = float(np.min(top2[:, 1] - top2[:, 0]))

            twin_path = Path(tmp) / f"{fx['name']}.twin.gguf"
            write_gguf(twin_path, fx, dequantized_twin(tensors), vocab, "F32")
            twin = prompt_logits(twin_path, prompt)
            twin_stats = dict(
                relative_rms=relative_rms(logits, twin),
                argmax_agreement=argmax_agreement(logits, twin),
                max_relative=max_relative(logits, twin),
            )
            if fx["type"] in FLOAT_TYPES:
                entry["greedy"] = tokens
                entry["greedy_margins"] = margins
                entry["weight_salt"] = salt
                # Not a test bound: how far llama.cpp's own arithmetic (f16 activations in
                # F16 matmuls) is from the same weights in f32.
                entry["llama_cpp_vs_f32_weights"] = twin_stats
                if fx["type"] == "F16":
                    # Informational: lets the parity test show how far Ponder is from exact
                    # f32 arithmetic on the same (f16-valued) weights.
                    exact_file = f"{fx['name']}.f32-weights.logits.bin"
                    twin.astype("<f4").tofile(args.out / exact_file)
                    total_bytes += (args.out / exact_file).stat().st_size
                    entry["f32_weights_logits"] = exact_file
            else:
                twin_file = f"{fx['name']}.twin.logits.bin"
                twin.astype("<f4").tofile(args.out / twin_file)
                total_bytes += (args.out / twin_file).stat().st_size
                entry["twin_logits"] = twin_file
                entry["llama_cpp_vs_twin"] = twin_stats
                twin_top2 = np.sort(twin, axis=1)[:, -2:]
                entry["twin_min_top2_margin"] = float(np.min(twin_top2[:, 1] - twin_top2[:, 0]))

            size = model_path.stat().st_size + (args.out / logits_file).stat().st_size
            total_bytes += size
            print(f"{fx['name']:11s} {model_path.stat().st_size / 1e6:6.3f} MB  "
                  f"max|logit| {entry['logits_max_abs']:7.3f}  rms {entry['logits_rms']:6.3f}  "
                  f"vs f32 twin: rel RMS {twin_stats['relative_rms']:.3e} "
                  f"max rel {twin_stats['max_relative']:.3e} argmax {twin_stats['argmax_agreement']:.3f}"
                  + (f"  greedy min margin {min(entry['greedy_margins']):.3e}" if "greedy" in entry else ""))
            if args.verify:
                entry["settings_effect"] = settings_effect(model_path, prompt, logits, fx)
                exact = numpy_forward(fx, tensors, prompt)
                check = {"numpy_f64_vs_llama_cpp": max_relative(exact, logits)}
                if fx["type"] == "F16":
                    check["numpy_f16_activations_vs_llama_cpp"] = max_relative(
                        numpy_forward(fx, tensors, prompt, f16_activations=True), logits)
                if fx["type"] not in FLOAT_TYPES:
                    check["numpy_f64_vs_twin"] = max_relative(exact, twin)
                entry["settings_effect"].update(check)
                print("  independent numpy check (max|Δ|/max|ref|): "
                      + "  ".join(f"{k} {v:.2e}" for k, v in check.items()))
            entries.append(entry)

    references = dict(
        generator="Scripts/make_model_fixtures.py",
        seed=SEED,
        llama_cpp_python=llama_cpp.__version__,
        gguf_py=getattr(gguf, "__version__", "0.19.0"),
        llama_cpp_settings=dict(
            type_k="f32", type_v="f32", flash_attn="disabled", use_extra_bufts=False,
            n_threads=N_THREADS, n_ctx=CONTEXT_LENGTH, n_batch=CONTEXT_LENGTH, n_seq_max=1,
            prompt_in_one_batch=True, logits_for_every_position=True),
        logits_format="raw little-endian f32, [n_positions x n_vocab], row p = logits after position p",
        relative_rms=RELATIVE_RMS_DEFINITION,
        argmax_agreement=ARGMAX_DEFINITION,
        prompt=prompt,
        greedy_tokens=GREEDY_TOKENS,
        logit_tolerance=LOGIT_TOLERANCE,
        greedy_margin_floor=(f"weights redrawn (weight_salt) until every greedy margin >= "
                             f"{GREEDY_MARGIN} x logit_tolerance x max|prompt logits|"),
        greedy_definition=("after the prompt in one batch, repeatedly take argmax of the last "
                           "logits (first index on ties) and decode it alone at the next position"),
        fixtures=entries,
    )
    if only:   # keep every other fixture's entry, in FIXTURES order
        kept = {e["name"]: e for e in json.loads((args.out / "references.json").read_text())["fixtures"]}
        kept.update({e["name"]: e for e in entries})
        references["fixtures"] = [kept[fx["name"]] for fx in FIXTURES if fx["name"] in kept]
    (args.out / "references.json").write_text(json.dumps(references, indent=1) + "\n")
    total_bytes += (args.out / "references.json").stat().st_size
    print(f"total {total_bytes / 1e6:.2f} MB in {args.out}")


def numpy_forward(fx: dict, tensors: dict[str, tuple[np.ndarray, T]], prompt: list[int],
                  f16_activations: bool = False) -> np.ndarray:
    """An independent float64 forward pass over the stored weights, for the checks only
    (never a reference). With f16_activations, the input of every matmul with F16 weights
    is rounded to f16 first, as ggml's CPU backend does (vec_dot_type of F16 is F16)."""
    w = {name: gguf.quants.dequantize(raw, q).astype(np.float64).reshape(raw.shape[0], -1)
         if raw.ndim == 2 else raw.astype(np.float64) for name, (raw, q) in tensors.items()}
    is_f16 = {name: q == T.F16 for name, (_, q) in tensors.items()}
    d, nh, nkv = fx["n_embd"], fx["n_head"], fx["n_head_kv"]
    hd, n = d // nh, len(prompt)
    eps = 1e-5 if fx["arch"] == "llama" else 1e-6

    def matmul(x, name):
        if f16_activations and is_f16[name]:
            x = x.astype(np.float16).astype(np.float64)
        return x @ w[name].T

    def rmsnorm(x, name):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w[name]

    inv = fx["rope_base"] ** (-np.arange(0, hd, 2) / hd)
    if "rope_freqs.weight" in w:
        inv = inv / w["rope_freqs.weight"]
    angle = np.arange(n)[:, None] * inv[None, :]          # [n, hd/2]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]

    def rope(x):                                           # [n, heads, hd]
        if fx["arch"] == "qwen2":                          # NEOX: (i, i + hd/2)
            a, b = x[..., :hd // 2], x[..., hd // 2:]
            return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
        a, b = x[..., 0::2], x[..., 1::2]                  # normal: (2i, 2i + 1)
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        return out

    x = w["token_embd.weight"][prompt]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(fx["n_layer"]):
        p = f"blk.{i}."
        h = rmsnorm(x, p + "attn_norm.weight")
        q, k, v = (matmul(h, p + f"attn_{t}.weight") + w.get(p + f"attn_{t}.bias", 0.0) for t in "qkv")
        q, k = rope(q.reshape(n, nh, hd)), rope(k.reshape(n, nkv, hd))
        v = v.reshape(n, nkv, hd)
        att = np.empty((n, nh, hd))
        for head in range(nh):
            g = head // (nh // nkv)
            scores = q[:, head] @ k[:, g].T / np.sqrt(hd) + mask
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            att[:, head] = (scores / scores.sum(axis=1, keepdims=True)) @ v[:, g]
        x = x + matmul(att.reshape(n, d), p + "attn_output.weight")
        h = rmsnorm(x, p + "ffn_norm.weight")
        gate = matmul(h, p + "ffn_gate.weight")
        x = x + matmul(gate / (1 + np.exp(-gate)) * matmul(h, p + "ffn_up.weight"), p + "ffn_down.weight")
    h = rmsnorm(x, "output_norm.weight")
    return matmul(h, "output.weight" if "output.weight" in w else "token_embd.weight")


def settings_effect(path: Path, prompt: list[int], reference: np.ndarray, fx: dict) -> dict:
    """How far each non-reference llama.cpp setting moves the logits (max|Δ|/max|ref|)."""
    out = {}
    check = LlamaRun(path)
    log = check.init_log
    check.close()
    assert re.search(r"K \(f32\)", log) and re.search(r"V \(f32\)", log), \
        "reference context does not report an f32 KV cache:\n" + log
    out["reference_kv_cache_log"] = [line.strip() for line in log.splitlines() if "K (f32)" in line][:1]
    again = prompt_logits(path, prompt)
    out["rerun"] = max_relative(again, reference)
    for label, variant in (("kv_f16", dict(kv_f16=True)), ("flash_attn", dict(flash_attn=True)),
                           ("repack", dict(repack=True))):
        out[label] = max_relative(prompt_logits(path, prompt, **variant), reference)
    print(f"  settings effect (max|Δ|/max|ref|): " + "  ".join(
        f"{k} {v:.2e}" for k, v in out.items() if isinstance(v, float)))
    return out


if __name__ == "__main__":
    sys.exit(main())
