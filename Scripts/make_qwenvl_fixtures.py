#!/usr/bin/env python3
"""Build the Qwen2-VL, Qwen2.5-VL and Qwen3-VL parity fixtures for Ponder's Inference tests.

Inputs (tokenizer text, chat templates, images, prompts) are in Scripts/qwenvl_fixture_data.py.
Writes, per family (Tests/InferenceTests/Fixtures/qwen2_vl/, .../qwen2_5_vl/ and .../qwen3_vl/):
  * hf/: a tiny random-weight checkpoint in HF layout (`Qwen2VLForConditionalGeneration`,
    `Qwen2_5_VLForConditionalGeneration`, `Qwen3VLForConditionalGeneration`) with every
    feature on and unit-scale weights, a tiny
    byte-level BPE tokenizer with Qwen's special tokens, the real chat template and a
    preprocessor config whose min/max pixels scale one test image down and one up;
  * model.gguf and mmproj.gguf: that checkpoint converted by llama.cpp's own
    convert_hf_to_gguf.py (F32), patched at run time only where a tiny tokenizer needs it;
  * images/: the PNG test images and, per image, the RGB bytes after HF's resize;
  * *.f32.bin: little-endian float32 references from transformers (the truth): logits at
    every position, pixel values, merged vision embeddings, deepstack features;
  * references.json: what every file holds, token ids, M-RoPE position ids, grids, the chat
    renderings of llama.cpp's llama_chat_apply_template, and llama.cpp's (mtmd's) agreement.

Usage:  python3 Scripts/make_qwenvl_fixtures.py [--family qwen2vl|qwen2.5vl|qwen3vl|all] [--out DIR]
                                                 [--llama-cpp-src DIR]
Needs:  torch (CPU), torchvision, transformers 5.x, tokenizers, numpy, pillow, gguf,
        llama-cpp-python 0.3.36's source tree (the converter) and, for the llama.cpp
        references, llama-cpp-python 0.3.36 itself (with libmtmd). Without the installed
        package those references are left out (`references.json` → `llama_cpp` says so); the
        Qwen2.5-VL and Qwen3-VL fixtures' tests read them, the Qwen2-VL fixture's do not.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "InferenceTests" / "Fixtures"
LLAMA_CPP_VERSION = "0.3.36"
# An unpacked llama-cpp-python 0.3.36 sdist, when one is there (git-ignored); else downloaded.
DEFAULT_LLAMA_SRC = ROOT / ".build-bench" / "llama_cpp_python-0.3.36"
SEED = 20261206
N_THREADS = 2
CONTEXT = 256

torch.set_num_threads(N_THREADS)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_mllama_fixtures import import_torchvision  # noqa: E402  (CPU-only torchvision import fix)

import_torchvision()

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoProcessor, PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor, Qwen2VLProcessor,
    Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor, Qwen2VLVideoProcessor, Qwen3VLVideoProcessor,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil  # noqa: E402
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize  # noqa: E402
from transformers.vision_utils import get_vision_window_index  # noqa: E402

from mllama_fixture_data import TRAINING_TEXT, make_image  # noqa: E402

from qwenvl_fixture_data import (  # noqa: E402
    ADDED, ADDED_QWEN3, CHATS, N_BPE, PROMPTS, QWEN2_SPLIT, QWEN25_TEMPLATE, QWEN3_TEMPLATE, TEMPLATE_TEXT, VOCAB,
    family_images,
)

# ------------------------------------------------------------------ families

FAMILIES = {
    # Qwen2-VL: LayerNorm (with bias) blocks and merger norm, fc1 -> quick GELU -> fc2 (no gate),
    # no window attention. In its config `hidden_size` is the merger's output width (the text
    # width) and `embed_dim` the ViT's; the MLP is embed_dim · mlp_ratio wide (96 here, unlike the
    # text width 64 that llama.cpp's converter writes as clip.vision.feed_forward_length). Depth
    # 4: the converter maps merger.mlp.2 only for depth >= 3.
    "qwen2vl": dict(
        dir="qwen2_vl", cls=Qwen2VLForConditionalGeneration, processor=Qwen2VLProcessor,
        video=Qwen2VLVideoProcessor, config=Qwen2VLConfig,
        template=QWEN25_TEMPLATE, added=ADDED, eos="<|im_end|>",
        patch=14, merge=2, temporal=2, min_tokens=12, max_tokens=30,
        mean=[0.48145466, 0.4578275, 0.40821073], std=[0.26862954, 0.26130258, 0.27577711],
        text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=512,
                  rope_parameters=dict(rope_type="default", rope_theta=1000.0, mrope_section=[2, 3, 3]),
                  hidden_act="silu", use_sliding_window=False),
        vision=dict(depth=4, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=3, patch_size=14,
                    spatial_merge_size=2, temporal_patch_size=2, hidden_act="quick_gelu"),
        tie=False),
    "qwen2.5vl": dict(
        dir="qwen2_5_vl", cls=Qwen2_5_VLForConditionalGeneration, processor=Qwen2_5_VLProcessor,
        video=Qwen2VLVideoProcessor, config=Qwen2_5_VLConfig,
        template=QWEN25_TEMPLATE, added=ADDED, eos="<|im_end|>",
        patch=14, merge=2, temporal=2, min_tokens=12, max_tokens=30,
        mean=[0.48145466, 0.4578275, 0.40821073], std=[0.26862954, 0.26130258, 0.27577711],
        text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=512,
                  rope_parameters=dict(rope_type="default", rope_theta=1000.0, mrope_section=[2, 3, 3]),
                  hidden_act="silu", use_sliding_window=False),
        vision=dict(depth=4, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14,
                    spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[1, 3],
                    out_hidden_size=64, hidden_act="silu", tokens_per_second=2),
        tie=False),
    "qwen3vl": dict(
        dir="qwen3_vl", cls=Qwen3VLForConditionalGeneration, processor=Qwen3VLProcessor,
        video=Qwen3VLVideoProcessor, config=Qwen3VLConfig,
        template=QWEN3_TEMPLATE, added=ADDED + ADDED_QWEN3, eos="<|im_end|>",
        patch=16, merge=2, temporal=2, min_tokens=12, max_tokens=30,
        mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
        text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6, max_position_embeddings=512,
                  rope_parameters=dict(rope_type="default", rope_theta=1000.0, mrope_section=[4, 2, 2],
                                       mrope_interleaved=True),
                  hidden_act="silu", attention_bias=False),
        vision=dict(depth=4, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
                    spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=64,
                    num_position_embeddings=16, deepstack_visual_indexes=[0, 2],
                    hidden_act="gelu_pytorch_tanh"),
        tie=True),
}


# ================================================================== helpers


def write_f32(out: Path, name: str, array) -> dict:
    a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    (out / name).write_bytes(a.tobytes())
    return {"file": name, "shape": list(a.shape)}


def max_rel(a, ref) -> float:
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def build_tokenizer(added: list[tuple[str, bool]]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=N_BPE, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(TRAINING_TEXT + TEMPLATE_TEXT * 4, trainer=trainer)
    assert tok.get_vocab_size() == N_BPE, tok.get_vocab_size()
    from tokenizers import AddedToken
    for content, special in added:
        if special:
            tok.add_special_tokens([AddedToken(content, special=True, normalized=False)])
        else:
            tok.add_tokens([AddedToken(content, special=False, normalized=False)])
    assert tok.token_to_id("<|endoftext|>") == N_BPE
    return tok


def unit_scale_weights(model: torch.nn.Module, seed: int) -> None:
    """Replace HF's initialisation (std 0.02) by unit-scale random values: linear and conv
    weights N(0, 1/fan_in), embeddings N(0, 1), norm weights 1 + 0.1·N, biases 0.1·N."""
    gen = torch.Generator().manual_seed(seed)

    def normal(shape):
        return torch.randn(shape, generator=gen, dtype=torch.float32)

    seen = set()
    with torch.no_grad():
        for _, module in model.named_modules():
            is_norm = isinstance(module, torch.nn.LayerNorm) or type(module).__name__.endswith("RMSNorm")
            is_embedding = isinstance(module, torch.nn.Embedding)
            for leaf, p in module.named_parameters(recurse=False):
                if id(p) in seen:
                    continue
                seen.add(id(p))
                if is_norm and leaf == "weight":
                    p.copy_(1 + 0.1 * normal(p.shape))
                elif leaf == "bias":
                    p.copy_(0.1 * normal(p.shape))
                elif is_embedding or p.ndim == 1:
                    p.copy_(normal(p.shape))
                else:
                    p.copy_(normal(p.shape) / math.sqrt(math.prod(p.shape[1:])))


# ================================================================== llama.cpp's converter


def llama_cpp_source(arg: str | None, scratch: Path) -> Path:
    """The llama-cpp-python sdist tree holding vendor/llama.cpp (the converter)."""
    if arg:
        return Path(arg)
    if (DEFAULT_LLAMA_SRC / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py").is_file():
        return DEFAULT_LLAMA_SRC
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                    f"llama-cpp-python=={LLAMA_CPP_VERSION}", "-d", str(scratch)], check=True)
    archive = next(scratch.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
    return scratch / f"llama_cpp_python-{LLAMA_CPP_VERSION}"


# Run-time patches of the converter, applied in the converter's own process:
# * its BPE pre-tokenizer check hashes the tokenization of a fixed text and only knows real
#   tokenizers; the tiny tokenizer here uses Qwen2's pre-tokenizer, so it answers "qwen2";
# * the qwen2vl text model tries a SentencePiece vocabulary first and falls back to GPT-2 BPE
#   on FileNotFoundError only; without the sentencepiece package the import fails first, so
#   it goes to the BPE vocabulary directly (what it ends with anyway: there is no tokenizer.model).
CONVERTER_SHIM = r"""
import sys
vendor = sys.argv.pop(1)
sys.path.insert(0, vendor)
import convert_hf_to_gguf as entry
from conversion import base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
try:
    import sentencepiece  # noqa: F401
except ImportError:
    from conversion import qwenvl
    qwenvl.Qwen2VLModel.set_vocab = lambda self: self._set_vocab_gpt2()
entry.main()
"""


def convert(src: Path, hf_dir: Path, out: Path, mmproj: bool) -> None:
    vendor = src / "vendor" / "llama.cpp"
    args = [sys.executable, "-c", CONVERTER_SHIM, str(vendor), str(hf_dir), "--outtype", "f32",
            "--outfile", str(out)]
    if mmproj:
        args.append("--mmproj")
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}  # the converter's own gguf-py
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"convert_hf_to_gguf failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")


def gguf_summary(path: Path) -> dict:
    import gguf
    reader = gguf.GGUFReader(str(path))
    keys = {}
    for field in reader.fields.values():
        if field.name.startswith("tokenizer.ggml.") and field.name not in (
                "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token"):
            keys[field.name] = f"[{len(field.data)} entries]"
            continue
        if field.name == "tokenizer.chat_template":
            keys[field.name] = "(the chat template)"
            continue
        value = field.contents()
        keys[field.name] = value
    tensors = {t.name: {"shape": [int(d) for d in t.shape], "type": t.tensor_type.name} for t in reader.tensors}
    return {"keys": keys, "tensors": tensors}


# ================================================================== llama.cpp runs


_LOG: list[str] = []


def have_llama_cpp() -> bool:
    """Whether llama-cpp-python is installed (the llama.cpp references need it; the converter does not)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def llama_init():
    import llama_cpp as L
    from llama_cpp import mtmd_cpp as M

    @L.llama_log_callback
    def log(level, text, user_data):
        _LOG.append(text.decode("utf-8", "replace"))

    llama_init.keep = log
    L.llama_log_set(log, ctypes.c_void_p(0))
    M.mtmd_log_set(log, ctypes.c_void_p(0))
    M.mtmd_helper_log_set(log, ctypes.c_void_p(0))
    L.llama_backend_init()


class LlamaText:
    """A llama.cpp model and context with reference settings: CPU, f32 KV cache, no flash
    attention, no weight repacking, every position's logits."""

    def __init__(self, path: Path):
        import llama_cpp as L
        self.L = L
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        mp.use_extra_bufts = False
        self.model = L.llama_model_load_from_file(str(path).encode(), mp)
        assert self.model, "".join(_LOG[-30:])
        cp = L.llama_context_default_params()
        cp.n_ctx = cp.n_batch = cp.n_ubatch = CONTEXT
        cp.n_seq_max = 1
        cp.n_threads = cp.n_threads_batch = N_THREADS
        cp.type_k = cp.type_v = 0
        cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = L.llama_init_from_model(self.model, cp)
        assert self.ctx
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.n_embd_inp = L.llama_model_n_embd_inp(self.model)
        self.n_past = 0

    def logits(self, n: int) -> np.ndarray:
        out = np.empty((n, self.n_vocab), dtype=np.float32)
        for i in range(n):
            out[i] = np.ctypeslib.as_array(self.L.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,))
        return out

    def decode_tokens(self, ids: list[int]) -> np.ndarray:
        L, n = self.L, len(ids)
        batch = L.llama_batch_init(n, 0, 1)
        try:
            for i, t in enumerate(ids):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, self.n_past + i, 1
                batch.seq_id[i][0], batch.logits[i] = 0, 1
            batch.n_tokens = n
            assert L.llama_decode(self.ctx, batch) == 0
        finally:
            L.llama_batch_free(batch)
        self.n_past += n
        return self.logits(n)

    def decode_image(self, embd: np.ndarray, nx: int, ny: int) -> np.ndarray:
        """Image embeddings with mtmd's M-RoPE positions: (t, y, x, 0) = (p0, p0 + row,
        p0 + column, 0); the next position is p0 + max(nx, ny)."""
        L = self.L
        n, d = embd.shape
        assert n == nx * ny and d == self.n_embd_inp, (embd.shape, nx, ny, self.n_embd_inp)
        p0 = self.n_past
        pos = np.zeros(4 * n, dtype=np.int32)
        i = np.arange(n)
        pos[:n], pos[n:2 * n], pos[2 * n:3 * n] = p0, p0 + i // nx, p0 + i % nx
        pos_buffer = (ctypes.c_int32 * (4 * n)).from_buffer_copy(pos.tobytes())
        batch = L.llama_batch_init(n, d, 1)
        pointer_type = type(batch.pos)
        saved = ctypes.cast(batch.pos, ctypes.c_void_p).value  # the address, not a view of the field
        try:
            ctypes.memmove(batch.embd, np.ascontiguousarray(embd, np.float32).ctypes.data, n * d * 4)
            batch.pos = ctypes.cast(pos_buffer, pointer_type)
            for k in range(n):
                batch.n_seq_id[k], batch.seq_id[k][0], batch.logits[k] = 1, 0, 1
            batch.n_tokens = n
            assert L.llama_decode(self.ctx, batch) == 0
        finally:
            batch.pos = ctypes.cast(saved, pointer_type)
            L.llama_batch_free(batch)
        self.n_past += max(nx, ny)
        return self.logits(n)

    def tokenize(self, text: str, special: bool) -> list[int]:
        raw = text.encode()
        buf = (self.L.llama_token * (len(raw) + 16))()
        n = self.L.llama_tokenize(self.vocab, raw, len(raw), buf, len(raw) + 16, False, special)
        assert n >= 0
        return list(buf[:n])

    def chat(self, messages: list[dict], add_assistant: bool) -> str:
        L = self.L
        tmpl = L.llama_model_chat_template(self.model, None)
        keep = [(m["role"].encode(), m["content"].encode()) for m in messages]
        chat = (L.llama_chat_message * len(keep))(*[L.llama_chat_message(role=r, content=c) for r, c in keep])
        buf = ctypes.create_string_buffer(8192)
        n = L.llama_chat_apply_template(tmpl, chat, len(keep), add_assistant, buf, len(buf))
        assert 0 <= n <= len(buf), n
        return buf.raw[:n].decode()

    def close(self):
        self.L.llama_free(self.ctx)
        self.L.llama_model_free(self.model)


class Mtmd:
    """libmtmd on a LlamaText model: CPU, no flash attention, no warmup, the same token limits
    as the HF processor."""

    def __init__(self, mmproj: Path, text: LlamaText, min_tokens: int, max_tokens: int):
        import llama_cpp as L
        from llama_cpp import mtmd_cpp as M
        self.M, self.L, self.text = M, L, text
        p = M.mtmd_context_params_default()
        p.use_gpu, p.print_timings, p.n_threads, p.warmup = False, False, N_THREADS, False
        p.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
        p.image_min_tokens, p.image_max_tokens = min_tokens, max_tokens
        self.ctx = M.mtmd_init_from_file(str(mmproj).encode(), text.model, p)
        assert self.ctx, "".join(_LOG[-30:])

    def tokenize(self, text: str, rgb: np.ndarray):
        M = self.M
        h, w, _ = rgb.shape
        buf = (ctypes.c_uint8 * rgb.size).from_buffer_copy(np.ascontiguousarray(rgb).tobytes())
        bitmap = M.mtmd_bitmap_init(w, h, buf)
        chunks = M.mtmd_input_chunks_init()
        inp = M.mtmd_input_text(text.encode(), len(text.encode()), False, True)
        rc = M.mtmd_tokenize(self.ctx, chunks, ctypes.byref(inp), (M.mtmd_bitmap_p_ctypes * 1)(bitmap), 1)
        M.mtmd_bitmap_free(bitmap)
        assert rc == 0, rc
        return chunks

    def chunks(self, chunks) -> list:
        M = self.M
        out = []
        for i in range(M.mtmd_input_chunks_size(chunks)):
            chunk = M.mtmd_input_chunks_get(chunks, i)
            if M.mtmd_input_chunk_get_type(chunk) == M.MTMD_INPUT_CHUNK_TYPE_TEXT:
                n = ctypes.c_size_t(0)
                ptr = M.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                out.append(dict(type="text", tokens=[int(ptr[k]) for k in range(n.value)], chunk=chunk))
            else:
                img = M.mtmd_input_chunk_get_tokens_image(chunk)
                out.append(dict(type="image", n_tokens=int(M.mtmd_input_chunk_get_n_tokens(chunk)),
                                n_pos=int(M.mtmd_input_chunk_get_n_pos(chunk)),
                                nx=int(M.mtmd_image_tokens_get_nx(img)), ny=int(M.mtmd_image_tokens_get_ny(img)),
                                chunk=chunk))
        return out

    def encode(self, chunk, n_tokens: int) -> np.ndarray:
        assert self.M.mtmd_encode_chunk(self.ctx, chunk) == 0
        d = self.text.n_embd_inp
        ptr = self.M.mtmd_get_output_embd(self.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_tokens * d,)).reshape(n_tokens, d).copy()

    def close(self):
        self.M.mtmd_free(self.ctx)


# ================================================================== HF references


def hf_inputs(processor, prompt: dict, images: dict):
    content = prompt["content"]
    if isinstance(content, list):
        content = [dict(part) for part in content]
    messages = [{"role": "user", "content": content}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if prompt["image"] is None:
        inputs = processor(text=[text], return_tensors="pt")
    else:
        inputs = processor(images=[images[prompt["image"]]], text=[text], return_tensors="pt")
    return messages, text, inputs


def run_hf(model, inputs, **extra) -> torch.Tensor:
    model.model.rope_deltas = None
    with torch.no_grad():
        return model(**inputs, use_cache=False, **extra).logits[0].float()


def position_ids(model, inputs) -> np.ndarray:
    ids = inputs["input_ids"]
    if "image_grid_thw" not in inputs:
        return np.tile(np.arange(ids.shape[1]), (3, 1))
    pos, _ = model.model.get_rope_index(ids, mm_token_type_ids=inputs["mm_token_type_ids"],
                                        image_grid_thw=inputs["image_grid_thw"])
    return pos[:, 0].numpy()


def hf_resized_rgb(image_processor, image: Image.Image) -> np.ndarray:
    """The uint8 RGB image after the processor's own resize (the step before rescale/normalize)."""
    tensor = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].contiguous()
    factor = image_processor.patch_size * image_processor.merge_size
    resized = image_processor.resize(tensor, size=image_processor.size,
                                     resample=image_processor.resample, factor=factor)
    assert resized.dtype == torch.uint8
    return resized[0].permute(1, 2, 0).contiguous().numpy()


def sensitivity(family: str, model, processor, images: dict, base_inputs, base: torch.Tensor) -> dict:
    """Max |Δlogit| on the image_down prompt when one path is changed."""
    report = {}
    flipped = images["down_240x160"].transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    _, _, other = hf_inputs(processor, PROMPTS[0], {"down_240x160": flipped})
    report["image mirrored"] = float((run_hf(model, other) - base).abs().max())
    ids = base_inputs["input_ids"]
    n = ids.shape[1]
    report["plain 1-D positions instead of M-RoPE"] = float(
        (run_hf(model, base_inputs, position_ids=torch.arange(n).view(1, 1, n).expand(3, 1, n)) - base).abs().max())
    pos = torch.from_numpy(position_ids(model, base_inputs)).view(3, 1, n)
    report["height and width positions swapped"] = float(
        (run_hf(model, base_inputs, position_ids=pos[[0, 2, 1]]) - base).abs().max())
    visual = model.model.visual
    if family == "qwen2vl":
        with torch.no_grad():
            norms = [b.norm1 for b in visual.blocks] + [b.norm2 for b in visual.blocks] + [visual.merger.ln_q]
            saved_biases = [n.bias.clone() for n in norms]
            for n in norms:
                n.bias.zero_()
            report["vision LayerNorm biases zeroed"] = float((run_hf(model, base_inputs) - base).abs().max())
            for n, b in zip(norms, saved_biases):
                n.bias.copy_(b)
        saved_act = [b.mlp.act for b in visual.blocks]
        for b in visual.blocks:
            b.mlp.act = torch.nn.GELU()
        report["vision blocks' quick GELU replaced by erf GELU"] = float((run_hf(model, base_inputs) - base).abs().max())
        for b, act in zip(visual.blocks, saved_act):
            b.mlp.act = act
    elif family == "qwen2.5vl":
        saved = list(visual.fullatt_block_indexes)
        visual.fullatt_block_indexes = list(range(visual.config.depth))
        report["window attention off (every layer full)"] = float((run_hf(model, base_inputs) - base).abs().max())
        visual.fullatt_block_indexes = saved
    else:
        text_model = model.model.language_model
        text_model._deepstack_process = lambda hidden, mask, features: hidden  # instance attribute
        report["deepstack off"] = float((run_hf(model, base_inputs) - base).abs().max())
        del text_model._deepstack_process
        with torch.no_grad():
            saved_pos = visual.pos_embed.weight.clone()
            visual.pos_embed.weight.zero_()
            report["vision position embeddings zeroed"] = float((run_hf(model, base_inputs) - base).abs().max())
            visual.pos_embed.weight.copy_(saved_pos)
    assert float((run_hf(model, base_inputs) - base).abs().max()) == 0.0
    return report


def imrope_leftover_pairs(section: list[int], head_dim: int) -> list[int]:
    """Pairs that interleaved M-RoPE assigns to none of t (i % 3 == 0, i < 3·s0), h (i % 3 == 1,
    i < 3·s1), w (i % 3 == 2, i < 3·s2)."""
    return [i for i in range(head_dim // 2)
            if not ((i % 3 == 0 and i < 3 * section[0]) or (i % 3 == 1 and i < 3 * section[1])
                    or (i % 3 == 2 and i < 3 * section[2]))]


def hf_logits_llama_rule(model, inputs, pairs: list[int]) -> torch.Tensor:
    """transformers' logits with llama.cpp's rule for the leftover pairs (position 0: unrotated)."""
    rotary = model.model.language_model.rotary_emb
    original = rotary.forward
    half = model.config.text_config.head_dim // 2

    def forward(x, position_ids):
        cos, sin = original(x, position_ids)
        cos, sin = cos.clone(), sin.clone()
        for i in pairs:
            cos[..., i], cos[..., i + half] = 1.0, 1.0
            sin[..., i], sin[..., i + half] = 0.0, 0.0
        return cos, sin

    rotary.forward = forward
    try:
        return run_hf(model, inputs)
    finally:
        rotary.forward = original


def vision_with_tanh_gelu_mergers(model, image_processor, images: dict) -> dict:
    """transformers' vision outputs with the mergers' exact GELU replaced by the tanh form that
    llama.cpp's graph uses (FFN_GELU), to separate that departure from rounding."""
    visual = model.model.visual
    mergers = [visual.merger] + list(getattr(visual, "deepstack_merger_list", []))
    saved = []
    for m in mergers:
        if hasattr(m, "mlp"):
            saved.append((m.mlp, 1, m.mlp[1]))
            m.mlp[1] = torch.nn.GELU(approximate="tanh")
        else:
            saved.append((m, "act_fn", m.act_fn))
            m.act_fn = torch.nn.GELU(approximate="tanh")
    out = {}
    try:
        for name in (p["image"] for p in PROMPTS if p["image"] is not None):
            result = image_processor(images=[images[name]], return_tensors="pt")
            with torch.no_grad():
                feats = model.model.get_image_features(result["pixel_values"], result["image_grid_thw"],
                                                       return_dict=True)
            ds = getattr(feats, "deepstack_features", None)
            out[name] = (feats.pooler_output[0].numpy(), None if not ds else np.stack([f[0].numpy() for f in ds]))
    finally:
        for owner, key, value in saved:
            if key == 1:
                owner[1] = value
            else:
                setattr(owner, key, value)
    return out


# ================================================================== one family


def build_family(family: str, out: Path, llama_src: Path, scratch: Path) -> None:
    spec = FAMILIES[family]
    print(f"== {family} -> {out}")
    hf_dir, image_dir = out / "hf", out / "images"
    for old in (out.iterdir() if out.exists() else []):  # everything this script writes; README.md stays
        if old.name != "README.md":
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    for d in (out, hf_dir, image_dir):
        d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)

    # --- images
    images = {}
    factor = spec["patch"] * spec["merge"]
    family_image_list = family_images(factor)
    for im in family_image_list:
        rgb = make_image(im["width"], im["height"], im["seed"])
        Image.fromarray(rgb).save(image_dir / f"{im['name']}.png")
        images[im["name"]] = Image.open(image_dir / f"{im['name']}.png").convert("RGB")

    # --- tokenizer and processor
    added = spec["added"]
    tok = build_tokenizer(added)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=spec["eos"], pad_token="<|endoftext|>",
                                   unk_token=None, bos_token=None, model_max_length=CONTEXT, errors="replace",
                                   clean_up_tokenization_spaces=False, split_special_tokens=False)
    image_processor = Qwen2VLImageProcessor(
        min_pixels=spec["min_tokens"] * factor * factor, max_pixels=spec["max_tokens"] * factor * factor,
        patch_size=spec["patch"], temporal_patch_size=spec["temporal"], merge_size=spec["merge"],
        image_mean=spec["mean"], image_std=spec["std"], resample=3, do_resize=True, do_rescale=True,
        rescale_factor=1 / 255, do_normalize=True, do_convert_rgb=True)
    video_processor = spec["video"](patch_size=spec["patch"], temporal_patch_size=spec["temporal"],
                                    merge_size=spec["merge"], image_mean=spec["mean"], image_std=spec["std"])
    processor = spec["processor"](image_processor=image_processor, tokenizer=fast, video_processor=video_processor,
                                  chat_template=spec["template"])
    processor.save_pretrained(hf_dir)
    image_processor.save_pretrained(hf_dir)
    tcfg = json.loads((hf_dir / "tokenizer_config.json").read_text())
    tcfg.update(add_bos_token=False, add_prefix_space=False, tokenizer_class="Qwen2Tokenizer")
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(tcfg, indent=2) + "\n")
    pcfg = json.loads((hf_dir / "preprocessor_config.json").read_text())
    pcfg.update(min_pixels=spec["min_tokens"] * factor * factor, max_pixels=spec["max_tokens"] * factor * factor)
    (hf_dir / "preprocessor_config.json").write_text(json.dumps(pcfg, indent=2) + "\n")

    # --- model
    ids = {c: tok.token_to_id(c) for c, _ in added}
    text_cfg = dict(spec["text"], vocab_size=VOCAB, bos_token_id=ids["<|endoftext|>"],
                    eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    cfg = spec["config"](text_config=text_cfg, vision_config=dict(spec["vision"]),
                     image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                     vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                     tie_word_embeddings=spec["tie"])
    model = spec["cls"](cfg).float().eval()
    unit_scale_weights(model, SEED)
    if spec["tie"]:
        assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(hf_dir, safe_serialization=True)

    processor = AutoProcessor.from_pretrained(hf_dir)
    image_processor = processor.image_processor
    model = spec["cls"].from_pretrained(hf_dir, dtype=torch.float32).eval()
    tokenizer = processor.tokenizer
    assert type(image_processor).__name__ == "Qwen2VLImageProcessor", type(image_processor)
    image_token_id = model.config.image_token_id
    assert tokenizer.convert_tokens_to_ids("<|image_pad|>") == image_token_id

    # --- GGUF pair by llama.cpp's converter
    convert(llama_src, hf_dir, out / "model.gguf", mmproj=False)
    convert(llama_src, hf_dir, out / "mmproj.gguf", mmproj=True)
    text_gguf, mmproj_gguf = gguf_summary(out / "model.gguf"), gguf_summary(out / "mmproj.gguf")

    refs: dict = {
        "family": family,
        "versions": {"transformers": __import__("transformers").__version__, "torch": torch.__version__,
                     "llama_cpp_python": __import__("llama_cpp").__version__ if have_llama_cpp() else None,
                     "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "model": {"vocab_size": VOCAB, "tokenizer_size": len(tokenizer), "image_token_id": image_token_id,
                  "vision_start_token_id": cfg.vision_start_token_id, "vision_end_token_id": cfg.vision_end_token_id,
                  "special_tokens": {c: ids[c] for c, _ in added},
                  "text_config": {k: v for k, v in model.config.text_config.to_dict().items()
                                  if k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                           "num_attention_heads", "num_key_value_heads", "head_dim",
                                           "rms_norm_eps", "rope_parameters", "attention_bias")},
                  "vision_config": {k: v for k, v in model.config.vision_config.to_dict().items()
                                    if k in ("depth", "embed_dim", "hidden_size", "intermediate_size", "mlp_ratio", "num_heads",
                                             "patch_size", "spatial_merge_size", "temporal_patch_size",
                                             "window_size", "fullatt_block_indexes", "out_hidden_size",
                                             "num_position_embeddings", "deepstack_visual_indexes",
                                             "hidden_act", "rope_parameters")},
                  "tie_word_embeddings": spec["tie"],
                  "image_processor": {"class": type(image_processor).__name__,
                                      "backend": type(image_processor).__mro__[1].__name__,
                                      "min_pixels": image_processor.size.shortest_edge,
                                      "max_pixels": image_processor.size.longest_edge,
                                      "factor": factor, "resample": int(image_processor.resample),
                                      "image_mean": spec["mean"], "image_std": spec["std"]}},
        "gguf": {"model.gguf": text_gguf, "mmproj.gguf": mmproj_gguf},
    }

    # --- preprocessing and vision references
    refs["images"] = {}
    vision_out = {}
    pil_processor = Qwen2VLImageProcessorPil(
        min_pixels=image_processor.size.shortest_edge, max_pixels=image_processor.size.longest_edge,
        patch_size=spec["patch"], temporal_patch_size=spec["temporal"], merge_size=spec["merge"],
        image_mean=spec["mean"], image_std=spec["std"], resample=3)
    for im in family_image_list:
        name = im["name"]
        result = image_processor(images=[images[name]], return_tensors="pt")
        grid = [int(v) for v in result["image_grid_thw"][0]]
        rh, rw = smart_resize(im["height"], im["width"], factor=factor, min_pixels=image_processor.size.shortest_edge,
                              max_pixels=image_processor.size.longest_edge)
        assert [grid[1] * spec["patch"], grid[2] * spec["patch"]] == [rh, rw]
        resized = hf_resized_rgb(image_processor, images[name])
        assert resized.shape == (rh, rw, 3)
        (image_dir / f"{name}.resized.rgb").write_bytes(resized.tobytes())
        # The resized image, handed back to the processor, is not resized again and gives the same pixels.
        again = image_processor(images=[Image.fromarray(resized)], return_tensors="pt")["pixel_values"]
        assert torch.equal(again, result["pixel_values"]), name
        with torch.no_grad():
            feats = model.model.get_image_features(result["pixel_values"], result["image_grid_thw"], return_dict=True)
        merged = feats.pooler_output[0]
        entry = {"image": f"images/{name}.png", "width": im["width"], "height": im["height"],
                 "resized_height_width": [rh, rw], "scaled": "down" if rh * rw < im["width"] * im["height"] else "up",
                 "resized_rgb": {"file": f"images/{name}.resized.rgb", "shape": [rh, rw, 3], "dtype": "u8"},
                 "image_grid_thw": grid, "n_image_tokens": merged.shape[0],
                 "pixel_values": write_f32(out, f"pixels.{name}.f32.bin", result["pixel_values"].numpy()),
                 "vision_output": write_f32(out, f"vision.{name}.f32.bin", merged.numpy())}
        ds = None
        if family == "qwen2.5vl":
            window_index, cu = get_vision_window_index(result["image_grid_thw"], spec["merge"],
                                                       spec["vision"]["window_size"], spec["patch"])
            entry["window_index"] = window_index.tolist()
            entry["cu_window_seqlens"] = cu.tolist()
        elif family == "qwen3vl":
            ds = torch.stack([f[0] for f in feats.deepstack_features])
            entry["deepstack"] = write_f32(out, f"deepstack.{name}.f32.bin", ds.numpy())
        # Pillow's bicubic (what transformers' PIL backend and llama.cpp's resize follow) against
        # the torchvision resize that the default processor uses.
        pillow = np.asarray(images[name].resize((rw, rh), Image.Resampling.BICUBIC)).astype(np.int16)
        delta = np.abs(pillow - resized.astype(np.int16))
        pil_pixels = pil_processor(images=[images[name]], return_tensors="np")["pixel_values"]
        entry["pillow_bicubic_vs_hf_resize"] = {"values_differing": int((delta > 0).sum()),
                                                "max_levels": int(delta.max()) if delta.size else 0,
                                                "of_values": int(delta.size)}
        entry["pil_backend_pixel_values_max_abs_diff"] = float(np.abs(pil_pixels - result["pixel_values"].numpy()).max())
        refs["images"][name] = entry
        vision_out[name] = (merged.numpy(), None if ds is None else ds.numpy(), resized)
        print(f"  {name}: {im['width']}x{im['height']} -> {rw}x{rh} (w x h), grid {grid}, {merged.shape[0]} tokens;"
              f" Pillow bicubic differs at {entry['pillow_bicubic_vs_hf_resize']['values_differing']} values")

    # --- prompts
    refs["prompts"] = []
    hf_logits = {}
    base_inputs = None
    for prompt in PROMPTS:
        messages, text, inputs = hf_inputs(processor, prompt, images)
        ids_ = inputs["input_ids"][0].tolist()
        logits = run_hf(model, inputs)
        hf_logits[prompt["name"]] = logits.numpy()
        pos = position_ids(model, inputs)
        entry = {"name": prompt["name"], "messages": messages, "image": prompt["image"], "text": text,
                 "ids": ids_, "position_ids": pos.tolist(),
                 "logits": write_f32(out, f"logits.{prompt['name']}.f32.bin", logits.numpy())}
        if prompt["image"] is not None:
            entry["image_grid_thw"] = inputs["image_grid_thw"][0].tolist()
            first = ids_.index(image_token_id)
            n_img = ids_.count(image_token_id)
            entry["image_token_span"] = [first, first + n_img]
            entry["next_position_after_image"] = int(pos[0, first + n_img])
            assert torch.equal(inputs["pixel_values"], torch.from_numpy(
                np.fromfile(out / f"pixels.{prompt['image']}.f32.bin", dtype="<f4").reshape(
                    inputs["pixel_values"].shape)))
        refs["prompts"].append(entry)
        if prompt["name"] == "image_down":
            base_inputs = inputs
        print(f"  {prompt['name']:17s} {len(ids_)} tokens, logits std {logits.std():.3f}")

    refs["sensitivity"] = sensitivity(family, model, processor, images, base_inputs,
                                      torch.from_numpy(hf_logits["image_down"]))
    print("  max |Δlogit| on image_down when a path changes:")
    for key, value in refs["sensitivity"].items():
        print(f"    {value:9.4f}  {key}")
        assert value > 1e-2, key

    # HF's own renderings of the chat-template test conversations.
    refs["chat_templates"] = {name: {"messages": msgs,
                                     "hf": processor.apply_chat_template(msgs, add_generation_prompt=True,
                                                                         tokenize=False)}
                              for name, msgs in CHATS.items()}

    # --- llama.cpp: templates, tokenizer, text-only logits, vision embeddings, image prompts
    rule_logits = None
    if family == "qwen3vl":
        gaps = imrope_leftover_pairs(spec["text"]["rope_parameters"]["mrope_section"], spec["text"]["head_dim"])
        rule_logits = {}
        for prompt in PROMPTS:
            _, _, inputs = hf_inputs(processor, prompt, images)
            rule_logits[prompt["name"]] = hf_logits_llama_rule(model, inputs, gaps).numpy()
        refs["imrope_leftover_pairs"] = {
            "pairs": gaps,
            "note": "frequency pairs i (of head_dim/2) that the interleaved rule gives to no section: "
                    "transformers rotates them by the temporal position; llama.cpp by a 4th position that "
                    "it sets to 0 for text and image tokens alike (llm_graph_input_pos::set_input, "
                    "mtmd's set_position_mrope_2d), i.e. leaves them unrotated. Real Qwen3-VL "
                    "(mrope_section [24, 20, 20], head_dim 128) has two: pairs 61 and 62.",
            "max_rel_logits_hf_vs_hf_with_llama_rule": {k: max_rel(v, hf_logits[k]) for k, v in rule_logits.items()}}
    if have_llama_cpp():
        vision_tanh = vision_with_tanh_gelu_mergers(model, image_processor, images)
        refs["llama_cpp"] = llama_cpp_references(family, spec, out, refs, hf_logits, vision_out, images, rule_logits,
                                                 vision_tanh)
    else:
        refs["llama_cpp"] = {"skipped": "llama-cpp-python was not installed when these fixtures were made; the "
                                        "GGUF pair is still llama.cpp's converter's"}
        print("  llama.cpp references skipped (llama-cpp-python not installed)")

    (out / "references.json").write_text(json.dumps(refs, indent=1, ensure_ascii=False) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"  wrote {total / 1e6:.2f} MB")


def llama_cpp_references(family, spec, out, refs, hf_logits, vision_out, images, rule_logits,
                         vision_tanh) -> dict:
    report: dict = {"settings": "CPU, 2 threads, f32 KV cache, flash attention off, no repacking; "
                                "mtmd image_min_tokens/image_max_tokens = the processor's min/max pixels in tokens",
                    "definition": "max|llama.cpp - transformers| / max|transformers| over the whole tensor"}
    text = LlamaText(out / "model.gguf")
    try:
        report["chat_templates"] = {name: text.chat(msgs, True) for name, msgs in CHATS.items()}
        for name, entry in refs["chat_templates"].items():
            entry["llama_cpp"] = report["chat_templates"][name]
        prompt = next(p for p in refs["prompts"] if p["name"] == "text_only")
        report["tokenize_text_only_matches_hf"] = text.tokenize(prompt["text"], True) == prompt["ids"]
        logits = text.decode_tokens(prompt["ids"])
        report["text_only_logits"] = max_rel(logits, hf_logits["text_only"])
        if rule_logits is not None:
            report["text_only_logits_vs_hf_llama_rule"] = max_rel(logits, rule_logits["text_only"])
        assert report["tokenize_text_only_matches_hf"]
    finally:
        text.close()

    report["vision"] = {}
    report["image_prompts"] = {}
    report["image_prompts_with_hf_image_embeddings"] = {}
    report["mtmd_own_preprocessing"] = {}
    for prompt in refs["prompts"]:
        if prompt["image"] is None:
            continue
        merged, deepstack, resized = vision_out[prompt["image"]]
        text = LlamaText(out / "model.gguf")
        mt = Mtmd(out / "mmproj.gguf", text, spec["min_tokens"], spec["max_tokens"])
        try:
            marker = "<|vision_start|><|image_pad|><|vision_end|>"
            assert prompt["text"].count(marker) == 1
            mt_text = prompt["text"].replace(marker, "<__media__>")
            chunks_handle = mt.tokenize(mt_text, resized)
            chunks = mt.chunks(chunks_handle)
            flat, rows = [], []
            for c in chunks:
                if c["type"] == "text":
                    flat += c["tokens"]
                    rows.append(text.decode_tokens(c["tokens"]))
                else:
                    flat += [refs["model"]["image_token_id"]] * c["n_tokens"]
                    emb = mt.encode(c["chunk"], c["n_tokens"])
                    d = merged.shape[1]
                    if prompt["image"] not in report["vision"]:
                        v = {"nx_ny": [c["nx"], c["ny"]], "n_pos": c["n_pos"]}
                        tanh_merged, tanh_deepstack = vision_tanh[prompt["image"]]
                        v["merged"] = max_rel(emb[:, :d], merged)
                        v["merged_vs_hf_with_tanh_gelu_mergers"] = max_rel(emb[:, :d], tanh_merged)
                        if deepstack is not None:
                            for k in range(deepstack.shape[0]):
                                v[f"deepstack_{k}"] = max_rel(emb[:, d * (k + 1):d * (k + 2)], deepstack[k])
                                v[f"deepstack_{k}_vs_hf_with_tanh_gelu_mergers"] = max_rel(
                                    emb[:, d * (k + 1):d * (k + 2)], tanh_deepstack[k])
                        report["vision"][prompt["image"]] = v
                    rows.append(text.decode_image(emb, c["nx"], c["ny"]))
            assert flat == prompt["ids"], (flat, prompt["ids"])
            report["image_prompts"][prompt["name"]] = {"hf": max_rel(np.concatenate(rows), hf_logits[prompt["name"]])}
            if rule_logits is not None:
                report["image_prompts"][prompt["name"]]["hf_llama_rule"] = max_rel(
                    np.concatenate(rows), rule_logits[prompt["name"]])
            # The same prompt with transformers' image embeddings (and deepstack features) as the
            # image rows: isolates llama.cpp's text model and M-RoPE image positions.
            hf_embd = merged if deepstack is None else np.concatenate([merged, *deepstack], axis=1)
            runs = {"hf": hf_logits[prompt["name"]]}
            if rule_logits is not None:
                runs["hf_llama_rule"] = rule_logits[prompt["name"]]
            replay = LlamaText(out / "model.gguf")
            try:
                rows = [replay.decode_tokens(c["tokens"]) if c["type"] == "text"
                        else replay.decode_image(hf_embd, c["nx"], c["ny"]) for c in chunks]
            finally:
                replay.close()
            report["image_prompts_with_hf_image_embeddings"][prompt["name"]] = {
                k: max_rel(np.concatenate(rows), v) for k, v in runs.items()}
            mt.M.mtmd_input_chunks_free(chunks_handle)
        finally:
            mt.close()
            text.close()

    # mtmd's own preprocessing of each original image (its smart resize and its Pillow-style
    # resize): the grid it picks, and its embeddings when the grid is HF's.
    text = LlamaText(out / "model.gguf")
    mt = Mtmd(out / "mmproj.gguf", text, spec["min_tokens"], spec["max_tokens"])
    try:
        for name, entry in refs["images"].items():
            merged = vision_out[name][0]
            handle = mt.tokenize("<__media__>", np.asarray(images[name]))
            info = [c for c in mt.chunks(handle) if c["type"] == "image"][0]
            emb = mt.encode(info["chunk"], info["n_tokens"])
            hf_grid = [entry["image_grid_thw"][1] // spec["merge"], entry["image_grid_thw"][2] // spec["merge"]]
            same = [info["ny"], info["nx"]] == hf_grid
            report["mtmd_own_preprocessing"][name] = {
                "merged_grid_rows_cols": [info["ny"], info["nx"]], "hf_merged_grid_rows_cols": hf_grid,
                "merged_vs_hf": max_rel(emb[:, :merged.shape[1]], merged) if same else None}
            mt.M.mtmd_input_chunks_free(handle)
    finally:
        mt.close()
        text.close()
    print("  llama.cpp vs transformers:")
    for key in ("text_only_logits", "text_only_logits_vs_hf_llama_rule", "vision", "image_prompts",
                "image_prompts_with_hf_image_embeddings", "mtmd_own_preprocessing"):
        if key in report:
            print(f"    {key}: {json.dumps(report[key])}")
    return report


# ================================================================== main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["qwen2vl", "qwen2.5vl", "qwen3vl", "all"], default="all")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (with --family all: the parent of qwen2_vl/, qwen2_5_vl/ and qwen3_vl/)")
    parser.add_argument("--llama-cpp-src", default=None,
                        help="the llama-cpp-python source tree (default: .build-bench/llama_cpp_python-0.3.36 if "
                             "present, else pip download of the sdist into a temporary folder)")
    args = parser.parse_args()
    families = list(FAMILIES) if args.family == "all" else [args.family]
    if have_llama_cpp():
        llama_init()
    with tempfile.TemporaryDirectory() as scratch:
        src = llama_cpp_source(args.llama_cpp_src, Path(scratch))
        for family in families:
            if args.out is None:
                out = FIXTURES / FAMILIES[family]["dir"]
            elif args.family == "all":
                out = args.out / FAMILIES[family]["dir"]
            else:
                out = args.out
            build_family(family, out, src, Path(scratch))


if __name__ == "__main__":
    main()
