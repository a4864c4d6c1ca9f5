#!/usr/bin/env python3
"""Check Ponder's decode kernels end to end on a whole model: quantize a GGUF with llama.cpp's
`llama_model_quantize` (llama-cpp-python) to each file type asked for, then compare the logits
of a short prompt (fewer tokens than `MatMul.gemmBatchThreshold`, 16, so every matmul takes
Ponder's decode kernels, which quantize activations as ggml does) from `ponder logits` and from llama.cpp, and both against
the dequantized-f32 twin of the file (every tensor through `gguf.quants.dequantize`).

Usage:  python3 Scripts/compare_decode_logits.py MODEL.gguf [--types IQ4_NL,IQ4_XS,Q2_K,Q3_K_S]
        [--ponder .build/release/ponder] [--tokens 7] [--keep DIR]
Rows wider than a type's block fall back to another type in llama.cpp; the tensor types of
each file are printed. Exit status 0 when Ponder's logits are within 1e-5 relative RMS of
llama.cpp's for every type.
"""
from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import gguf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_model_fixtures  # noqa: E402  (its llama.cpp runner and reference settings)

# llama_ftype values (llama.h).
FTYPES = {"Q4_0": 2, "Q8_0": 7, "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q4_K_M": 15, "Q5_K_M": 17,
          "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30}


def llama_quantize(src: Path, dst: Path, ftype: int) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    params.allow_requantize = True
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed with {rc}")


def write_twin(src: Path, dst: Path) -> None:
    """The file with every tensor dequantized to F32 and the same metadata."""
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"]
    writer = gguf.GGUFWriter(dst, arch=arch.parts[arch.data[0]].tobytes().decode())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        kind = field.types[0]
        if field.name == "general.file_type":
            writer.add_uint32(field.name, 0)
        elif kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            values = [field.parts[i].tobytes().decode() if sub == gguf.GGUFValueType.STRING
                      else field.parts[i][0].item() for i in field.data]
            writer.add_key_value(field.name, values, kind, sub_type=sub)
        elif kind == gguf.GGUFValueType.STRING:
            writer.add_key_value(field.name, field.parts[field.data[0]].tobytes().decode(), kind)
        else:
            writer.add_key_value(field.name, field.parts[field.data[0]][0].item(), kind)
    for tensor in reader.tensors:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        writer.add_tensor(tensor.name, values.reshape([int(x) for x in reversed(tensor.shape)]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def llama_logits(path: Path, tokens: list[int]) -> np.ndarray:
    """llama.cpp's logits with the parity settings of make_model_fixtures.py (f32 KV cache,
    no flash attention, no weight repacking)."""
    return make_model_fixtures.prompt_logits(path, tokens)


def relative_rms(a: np.ndarray, ref: np.ndarray) -> float:
    a64, r64 = a.astype(np.float64), ref.astype(np.float64)
    return float(np.sqrt(np.mean((a64 - r64) ** 2)) / np.sqrt(np.mean(r64 ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--types", default="IQ4_NL,IQ4_XS,Q2_K,Q3_K_S")
    parser.add_argument("--ponder", type=Path, default=Path(".build/release/ponder"))
    parser.add_argument("--tokens", type=int, default=7)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    import llama_cpp
    llama_cpp.llama_backend_init()
    make_model_fixtures._install_logger()
    if not 1 <= args.tokens < 16:
        sys.exit("--tokens must be 1 to 15, or Ponder takes its prompt-batch (GEMM) path")
    n_vocab = gguf.GGUFReader(args.model).fields["tokenizer.ggml.tokens"].data
    tokens = [int(t) for t in np.random.default_rng(7).integers(0, len(n_vocab), args.tokens)]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for name in args.types.split(","):
            quantized, twin, logits_file = out / f"{name}.gguf", out / f"{name}.twin.gguf", out / f"{name}.bin"
            llama_quantize(args.model, quantized, FTYPES[name])
            types = Counter(t.tensor_type.name for t in gguf.GGUFReader(quantized).tensors)
            write_twin(quantized, twin)
            subprocess.run([str(args.ponder), "logits", "--model", str(quantized), "--tokens",
                            " ".join(map(str, tokens)), "--out", str(logits_file)], check=True,
                           stdout=subprocess.DEVNULL)
            ours = np.fromfile(logits_file, dtype="<f4").reshape(len(tokens), -1)
            theirs, reference = llama_logits(quantized, tokens), llama_logits(twin, tokens)
            gap = relative_rms(ours, theirs)
            worst = max(worst, gap)
            print(f"{name:7s} {dict(types)}\n        relative RMS: Ponder vs llama.cpp {gap:.2e}; "
                  f"vs the f32 twin: Ponder {relative_rms(ours, reference):.3e}, "
                  f"llama.cpp {relative_rms(theirs, reference):.3e}")
    sys.exit(0 if worst < 1e-5 else 1)


if __name__ == "__main__":
    main()
