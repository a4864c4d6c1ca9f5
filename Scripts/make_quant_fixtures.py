#!/usr/bin/env python3
"""Build the dequantization fixture for Ponder's Inference tests.

Quantizes seeded f32 test data with llama.cpp's own quantizer (``ggml_quantize_chunk``
from the ``libggml-base`` shared library that llama-cpp-python ships, called through
ctypes), dequantizes it with ``gguf.quants.dequantize`` (the reference), and writes one
GGUF file holding, per type T:

    <t>        the quantized tensor, ggml type T, shape [ROWS x COLS]
    <t>.ref    the reference dequantization, F32, same shape

plus, for the IQ4 types IQ4_NL and IQ4_XS (shape [IQ_ROWS x IQ_COLS], to keep the file small):

    <t>        rows quantized by llama.cpp, as above
    <t>.ref    gguf.quants.dequantize of <t>
    <t>_random      random blocks: every byte random except the f16 scale ``d``, a random
                    finite f16 (subnormals and the largest values included)
    <t>_random.ref  gguf.quants.dequantize of <t>_random

plus, for the float types F16 and BF16:

    <t>.src    the f32 source values (edge cases included)
    <t>        the source converted as llama.cpp's converter does (numpy / gguf.quants)
    <t>.ref    gguf.quants.dequantize of <t>

The script also checks gguf's dequantization against ggml's own ``to_float`` and prints
how many elements differ (ggml may fuse multiply-adds; gguf is the reference).

Usage:  python3 Scripts/make_quant_fixtures.py [output.gguf]
Default output: Tests/InferenceTests/Fixtures/quants/quants.gguf
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

SEED = 20240611
ROWS = 8
COLS = 1024

QUANT_TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
# Written after the others (so their data stays as it was), with shorter rows.
IQ_TYPES = [T.IQ4_NL, T.IQ4_XS]
IQ_ROWS = 8
IQ_COLS = 256


def load_ggml_base() -> ctypes.CDLL:
    import llama_cpp  # only to locate the bundled shared libraries

    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    lib = ctypes.CDLL(str(lib_dir / "libggml-base.so"))
    # size_t ggml_quantize_chunk(enum ggml_type type, const float * src, void * dst,
    #                            int64_t start, int64_t nrows, int64_t n_per_row,
    #                            const float * imatrix);
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
    ]
    lib.ggml_quantize_init.restype = None
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
    lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
    return lib


class TypeTraits(ctypes.Structure):
    # struct ggml_type_traits in ggml.h
    _fields_ = [
        ("type_name", ctypes.c_char_p),
        ("blck_size", ctypes.c_int64),
        ("blck_size_interleave", ctypes.c_int64),
        ("type_size", ctypes.c_size_t),
        ("is_quantized", ctypes.c_bool),
        ("to_float", ctypes.c_void_p),
        ("from_float_ref", ctypes.c_void_p),
    ]


TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def test_rows(rng: np.random.Generator, cols: int) -> np.ndarray:
    """ROWS rows of f32 data with different distributions, one per row."""
    rows = [
        rng.standard_normal(cols),                               # normal
        rng.uniform(-1.0, 1.0, cols),                            # uniform
        rng.standard_normal(cols) * 0.02,                        # weight-like, with outliers
        np.zeros(cols),                                          # all zero
        rng.standard_normal(cols) * 1e-6,                        # scales in f16 subnormal range
        rng.standard_normal(cols) * 3e4,                         # large magnitudes
        # per-32 block scales spread over 1e-8 .. 1e4, some blocks constant
        rng.standard_normal(cols) * np.repeat(10.0 ** rng.uniform(-8, 4, cols // 32), 32),
        np.abs(rng.standard_normal(cols)) + 0.5,                 # all positive, offset
    ]
    data = np.stack(rows).astype(np.float32)
    outliers = rng.choice(cols, 12, replace=False)
    data[2, outliers] = rng.standard_normal(12).astype(np.float32) * 8.0
    data[6, 64:96] = np.float32(0.75)      # a constant block
    data[6, 96:128] = np.float32(-3.0e-5)  # a constant tiny block
    data[5, 7] = np.float32(6.0e4)         # near the f16 maximum
    return data


def quantize_with_ggml(lib: ctypes.CDLL, qtype: T, data: np.ndarray) -> np.ndarray:
    nrows, n_per_row = data.shape
    assert not lib.ggml_quantize_requires_imatrix(int(qtype)), qtype.name
    lib.ggml_quantize_init(int(qtype))
    row_size = lib.ggml_row_size(int(qtype), n_per_row)
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    assert row_size == n_per_row // block_size * type_size
    src = np.ascontiguousarray(data, dtype=np.float32)
    dst = np.zeros((nrows, row_size), dtype=np.uint8)
    written = lib.ggml_quantize_chunk(int(qtype), src.ctypes.data, dst.ctypes.data,
                                      0, nrows, n_per_row, None)
    assert written == dst.nbytes, (qtype.name, written, dst.nbytes)
    return dst


def ggml_to_float(lib: ctypes.CDLL, qtype: T, raw: np.ndarray, count: int) -> np.ndarray:
    traits = lib.ggml_get_type_traits(int(qtype)).contents
    out = np.zeros(count, dtype=np.float32)
    TO_FLOAT(traits.to_float)(raw.ctypes.data, out.ctypes.data, count)
    return out


def count_bit_differences(a: np.ndarray, b: np.ndarray) -> int:
    a, b = a.ravel(), b.ravel()
    both_nan = np.isnan(a) & np.isnan(b)
    return int(np.count_nonzero((a.view(np.uint32) != b.view(np.uint32)) & ~both_nan))


def float_edge_cases() -> np.ndarray:
    """f32 values that exercise f16/bf16 rounding, overflow, subnormals and NaN."""
    bits = [
        0x00000000, 0x80000000,              # +-0
        0x7F800000, 0xFF800000,              # +-inf
        0x7FC00000, 0xFFC00000, 0x7F800001,  # quiet NaNs, a signalling NaN
        0x7FA00000, 0x7FBFFFFF,              # signalling NaNs with payload
        0x00000001, 0x807FFFFF,              # f32 subnormals
        0x33000000, 0x33000001, 0x33800000,  # around half the smallest f16 subnormal
        0x387FC000, 0x38800000, 0x387FE000,  # largest f16 subnormal, smallest normal, tie
        0x477FE000, 0x477FEFFF, 0x477FF000,  # f16 max, just under the overflow tie, the tie
        0x47800000, 0x7F7FFFFF,              # overflow to inf
        0x3F800000, 0x3F801000, 0x3F803000,  # 1.0, ties to even in f16 (down, up)
        0x3F808000, 0x3F818000,              # ties to even in bf16 (down, up)
        0x3F80FFFF, 0x3F807FFF, 0x3F808001,  # just around bf16 ties
    ]
    return np.array(bits, dtype=np.uint32).view(np.float32)


def float_source(rng: np.random.Generator) -> np.ndarray:
    edge = float_edge_cases()
    n = 4 * 256
    values = np.concatenate([
        edge,
        rng.standard_normal(256 - len(edge)).astype(np.float32),
        (rng.standard_normal(256) * 1e-6).astype(np.float32),        # f16 subnormals
        (rng.standard_normal(256) * 3e4).astype(np.float32),         # some f16 overflow
        rng.integers(0, 2**32, 256, dtype=np.uint64).astype(np.uint32).view(np.float32),
    ]).astype(np.float32)
    assert values.size == n
    return values.reshape(4, 256)


def random_blocks(rng: np.random.Generator, qtype: T, rows: int, cols: int) -> np.ndarray:
    """Random bytes in the layout of `qtype`, with each block's leading f16 ``d`` (the only
    float field of IQ4_NL and IQ4_XS) replaced by a random finite f16 bit pattern."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rows * cols // block_size
    raw = rng.integers(0, 256, (blocks, type_size), dtype=np.uint8)
    d = rng.integers(0, 1 << 16, blocks, dtype=np.uint32).astype(np.uint16)
    d[(d & 0x7C00) == 0x7C00] &= np.uint16(0xBFFF)   # inf/NaN exponent -> finite
    raw[:, 0:2] = d.view(np.uint8).reshape(blocks, 2)
    return raw.reshape(rows, cols // block_size * type_size)


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    default = repo / "Tests/InferenceTests/Fixtures/quants/quants.gguf"
    out_path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    out_path.parent.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(SEED)
    lib = load_ggml_base()
    writer = gguf.GGUFWriter(str(out_path), arch="quant-fixtures")
    writer.add_string("fixture.generator", "Scripts/make_quant_fixtures.py")
    writer.add_uint32("fixture.seed", SEED)

    # F32: a plain copy.
    f32 = test_rows(rng, COLS)
    writer.add_tensor("f32", f32)
    writer.add_tensor("f32.ref", gguf.quants.dequantize(f32.view(np.uint8), T.F32).reshape(f32.shape))

    # F16 and BF16, converted as convert_hf_to_gguf.py does.
    with np.errstate(over="ignore", invalid="ignore"):
        for qtype in (T.F16, T.BF16):
            name = qtype.name.lower()
            src = float_source(rng)
            if qtype == T.F16:
                conv = src.astype(np.float16)
                raw = conv.view(np.uint8)
            else:
                raw = gguf.quants.quantize(src, T.BF16)
            ref = gguf.quants.dequantize(raw, qtype).reshape(src.shape)
            # llama.cpp's own conversion must agree except for NaN payloads.
            ggml_raw = quantize_with_ggml(lib, qtype, src)
            diff = count_bit_differences(
                gguf.quants.dequantize(ggml_raw, qtype), ref)
            print(f"{qtype.name:5s} numpy vs ggml conversion: {diff} differing non-NaN elements")
            writer.add_tensor(f"{name}.src", src)
            writer.add_tensor(name, raw, raw_dtype=qtype)
            writer.add_tensor(f"{name}.ref", ref.astype(np.float32))

    # Quantized types, quantized by llama.cpp.
    for qtype in QUANT_TYPES:
        name = qtype.name.lower()
        data = test_rows(rng, COLS)
        raw = quantize_with_ggml(lib, qtype, data)
        with np.errstate(over="ignore", invalid="ignore"):
            ref = gguf.quants.dequantize(raw, qtype).astype(np.float32)
        assert ref.shape == data.shape, (ref.shape, data.shape)
        ggml_ref = ggml_to_float(lib, qtype, raw, data.size)
        diff = count_bit_differences(ggml_ref, ref)
        nans = int(np.count_nonzero(np.isnan(ref)))
        infs = int(np.count_nonzero(np.isinf(ref)))
        print(f"{qtype.name:5s} {raw.nbytes:6d} bytes; gguf vs ggml to_float: {diff} differing "
              f"non-NaN elements; NaN {nans}, inf {infs}")
        writer.add_tensor(name, raw, raw_dtype=qtype)
        writer.add_tensor(f"{name}.ref", ref)

    # IQ4 types: llama.cpp's quantizer on shorter rows, then random blocks.
    for qtype in IQ_TYPES:
        name = qtype.name.lower()
        data = test_rows(rng, IQ_COLS)[:IQ_ROWS]
        raw = quantize_with_ggml(lib, qtype, data)
        for suffix, blocks in (("", raw), ("_random", random_blocks(rng, qtype, IQ_ROWS, IQ_COLS))):
            with np.errstate(over="ignore", invalid="ignore"):
                ref = gguf.quants.dequantize(blocks, qtype).astype(np.float32)
            assert ref.shape == (IQ_ROWS, IQ_COLS), ref.shape
            diff = count_bit_differences(ggml_to_float(lib, qtype, blocks, ref.size), ref)
            print(f"{qtype.name + suffix:13s} {blocks.nbytes:6d} bytes; gguf vs ggml to_float: {diff} "
                  f"differing non-NaN elements; NaN {int(np.isnan(ref).sum())}, inf {int(np.isinf(ref).sum())}")
            writer.add_tensor(name + suffix, blocks, raw_dtype=qtype)
            writer.add_tensor(f"{name}{suffix}.ref", ref)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {out_path.relative_to(repo) if out_path.is_relative_to(repo) else out_path} "
          f"({os.path.getsize(out_path)} bytes)")


if __name__ == "__main__":
    main()
