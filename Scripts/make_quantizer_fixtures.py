#!/usr/bin/env python3
"""Build the fixtures for Ponder's quantizer tests (encoders and per-tensor type plans).

1. Tests/InferenceTests/Fixtures/quants/quantizer.gguf: seeded f32 rows with hard cases
   (all-zero and constant blocks, huge and tiny magnitudes, one outlier per block,
   negative-only, subnormals, NaN-free) as tensor ``source`` [ROWS x COLS], and for each type
   T the bytes llama.cpp's ``ggml_quantize_chunk`` (no importance matrix) makes of it, as
   tensor ``<t>`` of type T. F16/BF16 also get ``<t>.source``, float edge cases (NaN, inf,
   rounding ties), converted by ggml's own row converters.

2. Tests/InferenceTests/Fixtures/quants/plans.json: for a few tiny random llama/qwen2 models
   (built here in a temporary folder, not committed), the type llama.cpp's
   ``llama_model_quantize`` gives each tensor under each target.

3. Tests/InferenceTests/Fixtures/quants/quantized_logits.json: how far llama.cpp's logits
   move when llama.cpp quantizes a model fixture (llama-f32 to every target, llama-q4_k to
   Q4_K_M), measured against the committed reference logits (the f32 model's, or the Q4_K
   model's dequantized twin's), with the model fixtures' reference settings.

Needs llama-cpp-python 0.3.36 built from source (its shared libraries), gguf and numpy.
Usage:  python3 Scripts/make_quantizer_fixtures.py
"""
from __future__ import annotations

import ctypes
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_quant_fixtures import load_ggml_base, quantize_with_ggml, float_edge_cases  # noqa: E402

SEED = 20261206
ROWS = 14
COLS = 512
TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K, T.F16, T.BF16]

# (name, llama_ftype) as in llama.h
TARGETS = [("Q8_0", 7), ("Q4_0", 2), ("Q4_K_M", 15), ("Q5_K_M", 17), ("Q6_K", 18),
           ("F16", 1), ("BF16", 32), ("F32", 0)]


def hard_rows(rng: np.random.Generator) -> np.ndarray:
    n = COLS
    blocks = n // 32
    rows = [
        rng.standard_normal(n),                                            # 0 normal
        rng.uniform(-1.0, 1.0, n),                                         # 1 uniform
        np.zeros(n),                                                       # 2 all zero
        np.full(n, 0.75),                                                  # 3 constant
        rng.standard_normal(n) * 1e30,                                     # 4 huge
        rng.standard_normal(n) * 1e-30,                                    # 5 tiny
        rng.standard_normal(n) * 0.02,                                     # 6 outliers, below
        -np.abs(rng.standard_normal(n)) - 0.1,                             # 7 negative only
        np.abs(rng.standard_normal(n)) + 0.5,                              # 8 positive, offset
        rng.standard_normal(n) * np.repeat(10.0 ** rng.uniform(-8, 4, blocks), 32),  # 9 block scales
        rng.standard_normal(n) * 1e-39,                                    # 10 f32 subnormals
        rng.standard_normal(n) * 3e4,                                      # 11 f16 overflow range
        rng.integers(-3, 4, n).astype(np.float64),                         # 12 small integers (ties)
        rng.standard_normal(n) * 1e-6,                                     # 13 f16 subnormal scales
    ]
    data = np.stack(rows).astype(np.float32)
    for b in range(blocks):                                                # one outlier per block
        data[6, 32 * b + rng.integers(0, 32)] = np.float32(rng.choice([-1, 1]) * rng.uniform(1, 5))
    # mixed blocks in the normal row: a zero block, constant blocks, a one-hot block
    data[0, 64:96] = 0.0
    data[0, 96:128] = np.float32(-2.5)
    data[0, 128:160] = 0.0
    data[0, 140] = np.float32(1.0)
    data[1, 256:272] = 0.0                                                 # a zero Q6_K sub-block
    data[9, 0:32] = np.float32(-3.0e-5)
    data[10, 0:32] = np.float32(1e-45)                                     # the smallest subnormal
    data[13, 5] = np.float32(6.0e4)
    assert data.shape == (ROWS, COLS) and np.all(np.isfinite(data))
    return data


def float_source(rng: np.random.Generator) -> np.ndarray:
    edge = float_edge_cases()
    rest = 256 - len(edge)
    values = np.concatenate([
        edge, rng.standard_normal(rest).astype(np.float32),
        rng.integers(0, 2**32, 256, dtype=np.uint64).astype(np.uint32).view(np.float32),
    ]).astype(np.float32)
    return values.reshape(2, 256)


def write_encoder_fixture(lib: ctypes.CDLL, out_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    data = hard_rows(rng)
    floats = float_source(rng)
    writer = gguf.GGUFWriter(str(out_path), arch="quantizer-fixtures")
    writer.add_string("fixture.generator", "Scripts/make_quantizer_fixtures.py")
    writer.add_uint32("fixture.seed", SEED)
    writer.add_tensor("source", data)
    for qtype in TYPES:
        name = qtype.name.lower()
        raw = quantize_with_ggml(lib, qtype, data)
        writer.add_tensor(name, raw, raw_dtype=qtype)
        if qtype in (T.F16, T.BF16):
            with np.errstate(over="ignore", invalid="ignore"):
                writer.add_tensor(f"{name}.source", floats)
                writer.add_tensor(f"{name}.edge", quantize_with_ggml(lib, qtype, floats), raw_dtype=qtype)
        print(f"{qtype.name:5s} {raw.nbytes:6d} bytes")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# -- plans ---------------------------------------------------------------------------------

def tiny_model(path: Path, template: Path, arch: str, layers: int, embd: int, ffn: int,
               heads: int, kv_heads: int, tied: bool, qkv_bias: bool) -> None:
    """A random model with the template's tokenizer and the given shape."""
    reader = gguf.GGUFReader(str(template))
    rng = np.random.default_rng(layers * 1000 + embd)
    writer = gguf.GGUFWriter(str(path), arch=arch)
    skip = {"general.architecture", "GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}
    for field in reader.fields.values():
        if field.name in skip or field.name.startswith(arch + "."):
            continue
        value = field.contents()
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(field.name, value, vtype, sub_type=field.types[-1])
        else:
            writer.add_key_value(field.name, value, vtype)
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    head_dim = embd // heads
    writer.add_block_count(layers)
    writer.add_context_length(256)
    writer.add_embedding_length(embd)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)

    def w(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    w("token_embd.weight", vocab, embd)
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(embd, dtype=np.float32))
        w(f"blk.{i}.attn_q.weight", embd, embd)
        w(f"blk.{i}.attn_k.weight", kv_heads * head_dim, embd)
        w(f"blk.{i}.attn_v.weight", kv_heads * head_dim, embd)
        if qkv_bias:
            for p, n in (("q", embd), ("k", kv_heads * head_dim), ("v", kv_heads * head_dim)):
                writer.add_tensor(f"blk.{i}.attn_{p}.bias", np.zeros(n, dtype=np.float32))
        w(f"blk.{i}.attn_output.weight", embd, embd)
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(embd, dtype=np.float32))
        w(f"blk.{i}.ffn_gate.weight", ffn, embd)
        w(f"blk.{i}.ffn_up.weight", ffn, embd)
        w(f"blk.{i}.ffn_down.weight", embd, ffn)
    writer.add_tensor("output_norm.weight", np.ones(embd, dtype=np.float32))
    if not tied:
        w("output.weight", vocab, embd)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def llama_plan(src: Path, dst: Path, ftype: int) -> dict[str, str]:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    assert rc == 0, (src, ftype, rc)
    reader = gguf.GGUFReader(str(dst))
    assert int(reader.fields["general.file_type"].contents()) == ftype
    return {t.name: t.tensor_type.name for t in reader.tensors}


def write_plan_fixture(models_dir: Path, out_path: Path) -> None:
    template = models_dir / "llama-f32.gguf"
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        specs = [
            # name, arch, layers, embd, ffn, heads, kv_heads, tied, qkv bias
            ("llama-16l-256", "llama", 16, 256, 320, 4, 2, False, False),
            ("llama-40l-256-tied", "llama", 40, 256, 512, 4, 1, True, False),
            ("qwen2-7l-96", "qwen2", 7, 96, 256, 2, 2, False, True),
            ("llama-3l-512-tied", "llama", 3, 512, 288, 8, 8, True, False),
        ]
        inputs = [("llama-f32", models_dir / "llama-f32.gguf"), ("qwen2-f32", models_dir / "qwen2-f32.gguf")]
        for spec in specs:
            path = tmp / f"{spec[0]}.gguf"
            tiny_model(path, template, *spec[1:])
            inputs.append((spec[0], path))
        for name, path in inputs:
            reader = gguf.GGUFReader(str(path))
            arch = str(reader.fields["general.architecture"].contents())
            tensors = [[t.name, [int(d) for d in t.shape], t.tensor_type.name] for t in reader.tensors]
            targets = {}
            for target, ftype in TARGETS:
                chosen = llama_plan(path, tmp / f"{name}-{target}.gguf", ftype)
                targets[target] = [chosen[t[0]] for t in tensors]
            cases.append({"model": name, "architecture": arch,
                          "block_count": int(reader.fields[f"{arch}.block_count"].contents()),
                          "tensors": tensors, "types": targets})
            print(f"plan {name}: {len(tensors)} tensors")
    # One case per line: [name, dimensions, type] per tensor, and per target the chosen types
    # in the same order.
    lines = [json.dumps(case, separators=(",", ":")) for case in cases]
    out_path.write_text('{"generator":"Scripts/make_quantizer_fixtures.py","llama_cpp_python":"0.3.36",\n'
                        '"cases":[\n' + ",\n".join(lines) + "\n]}\n")


def write_logits_fixture(models_dir: Path, out_path: Path) -> None:
    import make_model_fixtures as mm

    references = json.loads((models_dir / "references.json").read_text())
    prompt = references["prompt"]
    by_name = {f["name"]: f for f in references["fixtures"]}
    cases = [("llama-f32", target, by_name["llama-f32"]["logits"]) for target, _ in TARGETS]
    cases.append(("llama-q4_k", "Q4_K_M", by_name["llama-q4_k"]["twin_logits"]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, target, reference_file in cases:
            fx = by_name[model]
            out = Path(tmp) / f"{model}-{target}.gguf"
            import llama_cpp
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = dict(TARGETS)[target]
            params.nthread = 2
            params.allow_requantize = True
            rc = llama_cpp.llama_model_quantize(str(models_dir / fx["file"]).encode(), str(out).encode(),
                                                ctypes.byref(params))
            assert rc == 0, (model, target, rc)
            reference = np.fromfile(models_dir / reference_file, dtype="<f4").reshape(len(prompt), fx["n_vocab"])
            logits = mm.prompt_logits(out, prompt)
            rows.append({"model": fx["file"], "target": target, "reference": reference_file,
                         "relative_rms": mm.relative_rms(logits, reference),
                         "argmax_agreement": mm.argmax_agreement(logits, reference)})
            print(f"logits {model} {target}: rel RMS {rows[-1]['relative_rms']:.4f} "
                  f"argmax {rows[-1]['argmax_agreement']:.2f}")
    out_path.write_text(json.dumps({"generator": "Scripts/make_quantizer_fixtures.py", "cases": rows}, indent=1) + "\n")


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    quants = repo / "Tests/InferenceTests/Fixtures/quants"
    quants.mkdir(parents=True, exist_ok=True)
    lib = load_ggml_base()
    write_encoder_fixture(lib, quants / "quantizer.gguf")
    write_plan_fixture(repo / "Tests/InferenceTests/Fixtures/models", quants / "plans.json")
    write_logits_fixture(repo / "Tests/InferenceTests/Fixtures/models", quants / "quantized_logits.json")
    for f in ("quantizer.gguf", "plans.json", "quantized_logits.json"):
        print(f"wrote {f}: {os.path.getsize(quants / f)} bytes")


if __name__ == "__main__":
    main()
