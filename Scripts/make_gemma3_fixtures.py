#!/usr/bin/env python3
"""Build the Gemma 3 fixtures for Ponder's Inference tests.

Writes Tests/InferenceTests/Fixtures/gemma3/:
  * gemma3-text-f32.gguf, gemma3-text-f16.gguf, mmproj-gemma3-f32.gguf: a tiny random
    `Gemma3ForConditionalGeneration`, converted by llama.cpp's own convert_hf_to_gguf.py (the
    llama-cpp-python 0.3.36 sdist's vendored copy; --mmproj for the projector), the layout users
    download;
  * hf/: the checkpoint's config, a SentencePiece tokenizer.model (trained here) with Gemma's
    special tokens, tokenizer.json / tokenizer_config.json, Gemma 3's chat template, the
    processor and image processor settings (the weights are not kept: the GGUFs hold them);
  * images/: two PNG test images of different aspect ratios;
  * *.f32.bin: little-endian float32 references from transformers (the truth): logits at every
    position of four chat prompts, pixel values, vision tower outputs, projected image
    embeddings, per-layer hidden states;
  * llama.cpp.*.f32.bin: llama.cpp's logits (a second opinion);
  * references.json: what every file holds (shapes, prompts, token ids, renderings), llama.cpp's
    chat-template renderings and tokenizations, and the measured agreement.

The weights are unit-scale (HF zero-initialises norms and the projector): every path visibly
moves the logits; the script prints by how much.

Usage:  python3 Scripts/make_gemma3_fixtures.py [--out DIR] [--llama-cpp-src DIR]
Needs:  torch (CPU), transformers 5.x, tokenizers, sentencepiece, protobuf, numpy, pillow,
        safetensors, gguf, llama-cpp-python 0.3.36 (built from source, with libmtmd).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
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
DEFAULT_OUT = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "gemma3"
# An unpacked llama-cpp-python 0.3.36 sdist, when one is there (git-ignored); else downloaded.
DEFAULT_LLAMA_CPP_SRC = ROOT / ".build-bench" / "llama_cpp_python-0.3.36"
LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
SEED = 20250312

torch.set_num_threads(2)


sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_mllama_fixtures import import_torchvision  # noqa: E402  (CPU-only torchvision import fix)

import_torchvision()

import sentencepiece as spm  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import (  # noqa: E402
    Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessorPil, Gemma3Processor, GemmaTokenizer,
)

from gemma3_fixture_data import (  # noqa: E402
    CHAT_TEMPLATE, CHATS, IMAGES, PROMPTS, TOKENIZER_CORPUS, TRAINING_TEXT, make_image,
)

# ------------------------------------------------------------------ shapes

# Vocabulary as in the real files: the SentencePiece model's pieces (262,144 there), then
# `<image_soft_token>` as an added token with the first id after them, then unused padding rows
# up to `vocab_size` (262,208 there).
SP_VOCAB = 400
IMAGE_TOKEN_ID = SP_VOCAB
VOCAB = SP_VOCAB + 16
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]                   # ids 0..3, Gemma's order
USER_DEFINED = ["<mask>", "[multimodal]", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
                "<end_of_image>"]                                 # ids 4..9
BOI, EOI, IMAGE_TOKEN = "<start_of_image>", "<end_of_image>", "<image_soft_token>"

HIDDEN, HEAD_DIM = 64, 32
NUM_LAYERS = 7                 # llama.cpp's default pattern of 6: layers 0-4 and 6 sliding, 5 global
SLIDING_WINDOW = 8             # shorter than every prompt and than one image (9 soft tokens)
IMAGE_SIZE, PATCH = 168, 14    # 12 x 12 patches
MM_TOKENS = 9                  # 3 x 3 tokens: 4 x 4 average pooling, as Gemma 3 (896 px, 64 x 64 -> 16 x 16)
MEAN = STD = [0.5, 0.5, 0.5]   # Gemma 3's preprocessor_config.json


def config() -> Gemma3Config:
    text = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=128, num_hidden_layers=NUM_LAYERS,
                num_attention_heads=4, num_key_value_heads=2, head_dim=HEAD_DIM,
                query_pre_attn_scalar=HEAD_DIM,  # as the 4B (256 = head_dim); llama.cpp uses 1/sqrt(head_dim)
                sliding_window=SLIDING_WINDOW,
                layer_types=["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(NUM_LAYERS)],
                rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
                                 "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0}},
                hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6, max_position_embeddings=512,
                final_logit_softcapping=None, attn_logit_softcapping=None, tie_word_embeddings=True,
                pad_token_id=0, eos_token_id=1, bos_token_id=2)
    vision = dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, image_size=IMAGE_SIZE, patch_size=PATCH, layer_norm_eps=1e-6,
                  hidden_act="gelu_pytorch_tanh", vision_use_head=False)
    cfg = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=MM_TOKENS,
                       boi_token_index=len(SPECIALS) + USER_DEFINED.index(BOI),
                       eoi_token_index=len(SPECIALS) + USER_DEFINED.index(EOI),
                       image_token_index=IMAGE_TOKEN_ID, tie_word_embeddings=True)
    return cfg


# ------------------------------------------------------------------ tokenizer

def train_sentencepiece() -> bytes:
    """A BPE SentencePiece model with Gemma's settings: byte fallback, digits split, no dummy
    prefix, whitespace kept as is (identity normalizer), whitespace-only pieces allowed."""
    import io
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXT), model_writer=model, vocab_size=SP_VOCAB, model_type="bpe",
        byte_fallback=True, split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", allow_whitespace_only_pieces=True, character_coverage=1.0,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", user_defined_symbols=USER_DEFINED, num_threads=1, minloglevel=2,
        max_sentence_length=100_000)
    proto = model.getvalue()
    sp = spm.SentencePieceProcessor(model_proto=proto)
    assert sp.vocab_size() == SP_VOCAB
    assert [sp.id_to_piece(i) for i in range(len(SPECIALS) + len(USER_DEFINED))] == SPECIALS + USER_DEFINED
    return proto


def build_tokenizer(hf_dir: Path, sp_proto: bytes) -> GemmaTokenizer:
    """transformers' own conversion of the SentencePiece model (as the hub's tokenizer.json was
    made), with Gemma 3's special tokens: the turn and image markers special (control in the
    GGUF), `<image_soft_token>` added after the pieces."""
    (hf_dir / "tokenizer.model").write_bytes(sp_proto)
    (hf_dir / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GemmaTokenizer"}) + "\n")
    tok = GemmaTokenizer.from_pretrained(
        hf_dir, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
        add_bos_token=True, add_eos_token=False, model_max_length=512,
        extra_special_tokens={"boi_token": BOI, "eoi_token": EOI, "image_token": IMAGE_TOKEN})
    tok.add_special_tokens({"additional_special_tokens": USER_DEFINED + [IMAGE_TOKEN]})
    assert len(tok) == SP_VOCAB + 1, len(tok)
    assert tok.convert_tokens_to_ids(IMAGE_TOKEN) == IMAGE_TOKEN_ID
    assert tok.image_token_id == IMAGE_TOKEN_ID and tok.boi_token == BOI and tok.eoi_token == EOI
    sp = spm.SentencePieceProcessor(model_proto=sp_proto)
    for text in TRAINING_TEXT[:19] + TOKENIZER_CORPUS:
        if "<" in text:
            continue
        assert tok(text, add_special_tokens=False)["input_ids"] == sp.encode(text), text
    return tok


def hub_style_tokenizer_config(directory: Path) -> None:
    """transformers 5 keeps the added tokens only in tokenizer.json and records where the
    tokenizer was loaded from. The hub's Gemma 3 tokenizer_config.json (written by 4.x) also
    lists them under `added_tokens_decoder`, and llama.cpp's converter reads them only from there
    (SentencePiece vocabularies): without it `<start_of_turn>` would be an ordinary token and
    `<image_soft_token>` a "[PAD400]" placeholder. Write that form, without local paths."""
    path = directory / "tokenizer_config.json"
    cfg = json.loads(path.read_text())
    for key in ("vocab_file", "is_local", "local_files_only"):
        cfg.pop(key, None)
    added = json.loads((directory / "tokenizer.json").read_text())["added_tokens"]
    cfg["added_tokens_decoder"] = {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                    "single_word", "special")} for t in added}
    cfg.update(add_bos_token=True, add_eos_token=False)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------ weights

def unit_scale_weights(model: torch.nn.Module, seed: int) -> None:
    """Replace HF's initialisation (zero RMSNorm weights, zero projector, small embeddings) by
    unit-scale random values. Gemma's RMSNorm scales by (1 + w): w ~ 0.3 N(0, 1). SigLIP's
    LayerNorms: 1 + 0.1 N, biases 0.1 N. Linear ~ N(0, 1/fan_in). The token embeddings (tied to
    the output) ~ N(0, 1/hidden), so that the embedding scale sqrt(hidden) makes them unit-scale;
    SigLIP's position embeddings N(0, 1). The projector matrix (x @ W, W [vision, text]) is
    rounded to f16 values, since llama.cpp's converter always stores it as F16: the GGUF then
    holds it exactly."""
    gen = torch.Generator().manual_seed(seed)

    def normal(shape):
        return torch.randn(shape, generator=gen, dtype=torch.float32)

    seen: set[int] = set()
    with torch.no_grad():
        for module_name, module in model.named_modules():
            kind = type(module).__name__
            for leaf, p in module.named_parameters(recurse=False):
                if id(p) in seen:                                      # lm_head: tied to embed_tokens
                    continue
                seen.add(id(p))
                if kind == "Gemma3RMSNorm":
                    p.copy_(0.3 * normal(p.shape))
                elif isinstance(module, torch.nn.LayerNorm) and leaf == "weight":
                    p.copy_(1 + 0.1 * normal(p.shape))
                elif leaf == "bias":
                    p.copy_(0.1 * normal(p.shape))
                elif leaf == "mm_input_projection_weight":
                    p.copy_((normal(p.shape) / math.sqrt(p.shape[0])).half().float())
                elif kind == "Gemma3TextScaledWordEmbedding":
                    p.copy_(normal(p.shape) / math.sqrt(p.shape[1]))
                elif isinstance(module, torch.nn.Embedding):
                    p.copy_(normal(p.shape))
                else:
                    p.copy_(normal(p.shape) / math.sqrt(math.prod(p.shape[1:])))
    assert {id(p) for p in model.parameters()} <= seen


# ------------------------------------------------------------------ llama.cpp's converter

# Runs convert_hf_to_gguf.py from the sdist in a child process (its own gguf-py first on the path,
# as the script arranges itself). The converter is not patched: the vocabulary is SentencePiece
# (no BPE pre-tokenizer hash to know), the vision keys are given in the hub layout
# (hub_layout_checkpoint) and the special tokens in the hub's tokenizer_config.json form
# (hub_style_tokenizer_config). The child gets the same torchvision workaround as this process.
CONVERTER_RUNNER = r"""
import runpy, sys
import torch
try:
    import torchvision  # noqa: F401  (see import_torchvision: a CUDA wheel on CPU torch)
except RuntimeError:
    for name in [n for n in sys.modules if n.startswith("torchvision")]:
        del sys.modules[name]
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for op in ("nms", "qnms"):
        lib.define(op + "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
script = sys.argv[1]
sys.argv = [script] + sys.argv[2:]
sys.path.insert(0, script.rsplit("/", 1)[0])
runpy.run_path(script, run_name="__main__")
"""


def find_llama_cpp_src(path: Path | None, scratch: Path) -> Path:
    """The llama-cpp-python sdist's root: the given folder, .build-bench/llama_cpp_python-0.3.36, or downloaded."""
    for candidate in ([path] if path else []) + [DEFAULT_LLAMA_CPP_SRC]:
        if candidate and (candidate / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py").is_file():
            return candidate
    if path:
        raise SystemExit(f"{path} holds no vendor/llama.cpp/convert_hf_to_gguf.py")
    download = scratch / "sdist"
    download.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", "llama-cpp-python", "--no-deps", "--quiet",
                    "--dest", str(download), LLAMA_CPP_PYTHON], check=True)
    archive = next(download.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(download, filter="data")
    return next(p for p in download.iterdir() if p.is_dir())


def hub_layout_checkpoint(src: Path, dst: Path) -> None:
    """A copy of the saved checkpoint with the vision keys as the hub's Gemma 3 files (and
    llama.cpp's tensor map) name them: transformers 5 saves `vision_tower.embeddings...`,
    google/gemma-3-4b-it has `vision_tower.vision_model.embeddings...`."""
    dst.mkdir()
    for f in src.iterdir():
        if f.name != "model.safetensors":
            shutil.copy(f, dst / f.name)
    tensors = load_file(src / "model.safetensors")
    renamed = {("vision_tower.vision_model." + k[len("vision_tower."):] if k.startswith("vision_tower.")
                and not k.startswith("vision_tower.vision_model.") else k): v for k, v in tensors.items()}
    save_file(renamed, dst / "model.safetensors", metadata={"format": "pt"})


def convert(llama_cpp_src: Path, checkpoint: Path, outfile: Path, outtype: str, mmproj: bool) -> str:
    script = llama_cpp_src / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py"
    args = [sys.executable, "-c", CONVERTER_RUNNER, str(script), str(checkpoint), "--outtype", outtype,
            "--outfile", str(outfile), "--model-name", "ponder-gemma3-tiny"] + (["--mmproj"] if mmproj else [])
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"convert_hf_to_gguf.py failed for {outfile.name}:\n{result.stdout[-4000:]}\n"
                         f"{result.stderr[-4000:]}")
    return result.stdout + result.stderr


def gguf_summary(path: Path) -> dict:
    """The GGUF's metadata (without the token arrays and the template) and its tensors' types and
    dims (`ne`, ggml order: ne[0] is the row length)."""
    import gguf
    reader = gguf.GGUFReader(str(path))
    kv = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                                                            "tokenizer.ggml.token_type", "tokenizer.chat_template"):
            continue
        value = field.contents()
        kv[field.name] = value
    tensors = {t.name: {"type": t.tensor_type.name, "ne": [int(n) for n in t.shape]} for t in reader.tensors}
    return {"metadata": kv, "tensors": tensors}


# ------------------------------------------------------------------ helpers

def write_f32(out: Path, name: str, array) -> dict:
    a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    (out / name).write_bytes(a.tobytes())
    return {"file": name, "shape": list(a.shape)}


def max_rel(a, ref) -> float:
    """max |a - ref| / max |ref| over the whole tensor."""
    a, ref = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(a - ref)) / np.max(np.abs(ref)))


def load_rgb(path: Path) -> Image.Image:
    return Image.open(path).convert("RGB")


def with_images(messages: list[dict], image: Image.Image | None) -> list[dict]:
    """The messages with the image object in its part (for apply_chat_template(tokenize=True))."""
    if image is None:
        return messages
    return [dict(m, content=[dict(p, image=image) if p["type"] == "image" else p for p in m["content"]])
            if isinstance(m["content"], list) else m for m in messages]


def prompt_inputs(processor, prompt: dict, image: Image.Image | None):
    text = processor.apply_chat_template(prompt["messages"], add_generation_prompt=True, tokenize=False)
    if image is None:
        inputs = processor(text=text, add_special_tokens=False, return_tensors="pt")
    else:
        inputs = processor(images=[image], text=text, add_special_tokens=False, return_tensors="pt")
    return text, inputs


def run(model, inputs, **overrides) -> torch.Tensor:
    kwargs = {k: v for k, v in inputs.items() if k in ("input_ids", "pixel_values", "token_type_ids",
                                                      "attention_mask")}
    kwargs.update(overrides)
    with torch.no_grad():
        return model(**kwargs).logits[0].float()


# ------------------------------------------------------------------ transformers references

def hidden_states(out: Path, model, inputs, name: str) -> dict:
    text_model = model.model.language_model
    captured = []
    hooks = [layer.register_forward_hook(lambda m, i, o: captured.append((o[0] if isinstance(o, tuple) else o)[0]))
             for layer in text_model.layers]
    hooks.append(text_model.norm.register_forward_hook(lambda m, i, o: captured.append(o[0])))
    hooks.append(text_model.register_forward_pre_hook(
        lambda m, args, kwargs: captured.insert(0, kwargs["inputs_embeds"][0]), with_kwargs=True))
    run(model, inputs)
    for hook in hooks:
        hook.remove()
    stacked = torch.stack(captured)                                    # [1 + layers + 1, positions, hidden]
    assert stacked.shape[0] == NUM_LAYERS + 2
    return {**write_f32(out, f"hidden_states.{name}.f32.bin", stacked.numpy()),
            "note": "index 0: the decoder's input embeddings (text rows: embed_tokens · sqrt(hidden); image "
                    "rows: the projected image features, unscaled); 1..num_hidden_layers: after decoder layer "
                    "i-1; last: after the final RMSNorm"}


def image_references(out: Path, model, image_processor, images: dict[str, Image.Image],
                     resized_images: dict[str, np.ndarray]) -> list[dict]:
    """Per test image: the PIL backend's pixel values (the processor the references use), the
    torchvision backend's difference from them, the vision tower's output and the projected
    image embeddings (get_image_features)."""
    entries = []
    try:
        from transformers import Gemma3ImageProcessor
        torchvision_processor = Gemma3ImageProcessor(
            size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=2, do_rescale=True, rescale_factor=1 / 255,
            do_normalize=True, image_mean=MEAN, image_std=STD, do_pan_and_scan=False)
    except Exception:                                              # noqa: BLE001 (torchvision unusable)
        torchvision_processor = None
    for spec in IMAGES:
        image = images[spec["name"]]
        result = image_processor(images=[image], return_tensors="pt")
        pixels = result["pixel_values"]                            # [1, 3, S, S]
        assert tuple(pixels.shape) == (1, 3, IMAGE_SIZE, IMAGE_SIZE) and list(result["num_crops"]) == [0]
        resized = np.asarray(image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR))
        again = ((resized.astype(np.float64) * (1 / 255)).astype(np.float32) - np.float32(0.5)) / np.float32(0.5)
        assert np.array_equal(again.transpose(2, 0, 1), pixels[0].numpy()), "pixels are not Pillow bilinear + (x/255-0.5)/0.5"
        with torch.no_grad():
            features = model.model.get_image_features(pixel_values=pixels, return_dict=True)
        vision = features.last_hidden_state[0]                     # [patches, vision hidden]
        projected = features.pooler_output[0]                      # [mm_tokens, text hidden]
        entry = {"name": spec["name"], "image": "images/" + spec["file"], "width": spec["width"],
                 "height": spec["height"],
                 "pixel_values": write_f32(out, f"pixels.{spec['name']}.f32.bin", pixels[0].numpy()),
                 "vision_output": write_f32(out, f"vision_output.{spec['name']}.f32.bin", vision.numpy()),
                 "image_embeddings": write_f32(out, f"image_embeddings.{spec['name']}.f32.bin", projected.numpy())}
        if torchvision_processor is not None:
            try:
                tv = torchvision_processor(images=[image], return_tensors="pt")["pixel_values"]
                entry["torchvision_backend_vs_pil_max_abs"] = float((tv - pixels).abs().max())
            except Exception:                                      # noqa: BLE001
                pass
        entries.append(entry)
        resized_images[spec["name"]] = resized
        print(f"  {spec['name']:10s} {spec['width']}x{spec['height']} -> {IMAGE_SIZE}x{IMAGE_SIZE}: vision "
              f"{tuple(vision.shape)}, embeddings {tuple(projected.shape)} (max |e| {projected.abs().max():.2f})"
              + (f", torchvision backend differs by {entry['torchvision_backend_vs_pil_max_abs']:.4f}"
                 if "torchvision_backend_vs_pil_max_abs" in entry else ""))
    return entries


def model_references(out: Path, model, processor, images: dict[str, Image.Image]) -> tuple[list, dict]:
    prompts, inputs_by_name = [], {}
    image_seq = processor.full_image_sequence
    for prompt in PROMPTS:
        image = images[prompt["image"]] if prompt["image"] else None
        text, inputs = prompt_inputs(processor, prompt, image)
        ids = inputs["input_ids"][0].tolist()
        templated = processor.apply_chat_template(with_images(prompt["messages"], image),
                                                  add_generation_prompt=True, tokenize=True, return_dict=True)
        templated_ids = templated["input_ids"]
        templated_ids = templated_ids[0] if templated_ids and isinstance(templated_ids[0], list) else templated_ids
        assert list(templated_ids) == ids, (templated_ids, ids)
        expanded = text.replace(BOI, image_seq) if image is not None else text
        assert processor.tokenizer(expanded, add_special_tokens=False)["input_ids"] == ids
        logits = run(model, inputs)
        token_types = inputs["token_type_ids"][0].tolist()
        assert token_types == [int(t == IMAGE_TOKEN_ID) for t in ids]
        entry = {"name": prompt["name"], "image": prompt["image"], "messages": prompt["messages"],
                 "text": text, "expanded_text": expanded, "ids": ids, "n_positions": len(ids),
                 "logits": write_f32(out, f"logits.{prompt['name']}.f32.bin", logits.numpy())}
        if image is not None:
            first = ids.index(IMAGE_TOKEN_ID)
            entry["image_span"] = [first, first + MM_TOKENS]
            assert ids[first - 1] == model.config.boi_token_index and ids[first + MM_TOKENS] == model.config.eoi_token_index
        prompts.append(entry)
        inputs_by_name[prompt["name"]] = inputs
        print(f"  {prompt['name']:16s} {len(ids)} tokens, logits std {logits.std():.3f}, max |logit| "
              f"{logits.abs().max():.2f}")
    return prompts, inputs_by_name


def sensitivity(model, processor, inputs_by_name: dict, images: dict[str, Image.Image]) -> dict:
    """Max |Δlogit| when one feature is changed or switched off: each must visibly move the logits."""
    report = {}
    lm = model.model.language_model
    for name in ("image_landscape", "text_only"):
        inputs = inputs_by_name[name]
        base = run(model, inputs)

        def measure(label, **overrides):
            report[f"{name}: {label}"] = float((run(model, inputs, **overrides) - base).abs().max())

        def with_param(label, param, value):
            saved = param.detach().clone()
            with torch.no_grad():
                param.copy_(torch.as_tensor(value, dtype=param.dtype).expand_as(param))
            measure(label)
            with torch.no_grad():
                param.copy_(saved)

        def with_buffer(label, owner, attr, value):
            saved = getattr(owner, attr).clone()
            getattr(owner, attr).copy_(value)
            measure(label)
            getattr(owner, attr).copy_(saved)

        saved_window = lm.config.sliding_window
        lm.config.sliding_window = 4096
        measure("no sliding window (4096)")
        lm.config.sliding_window = saved_window
        rope = lm.rotary_emb
        with_buffer("global rope without the linear factor 8", rope, "full_attention_inv_freq",
                    rope.full_attention_inv_freq * 8)
        with_buffer("local layers with the global layers' frequencies", rope, "sliding_attention_inv_freq",
                    rope.full_attention_inv_freq)
        with_buffer("embedding scale 1 instead of sqrt(hidden)", lm.embed_tokens, "embed_scale",
                    torch.tensor(1.0))
        layer0 = lm.layers[0]
        with_param("layer 0 q_norm weight 0 (scale 1)", layer0.self_attn.q_norm.weight, 0)
        with_param("layer 0 k_norm weight 0 (scale 1)", layer0.self_attn.k_norm.weight, 0)
        with_param("layer 0 post_attention_layernorm weight 0", layer0.post_attention_layernorm.weight, 0)
        with_param("layer 0 post_feedforward_layernorm weight 0", layer0.post_feedforward_layernorm.weight, 0)
        with_param("layer 5 (global) q_norm weight 0", lm.layers[5].self_attn.q_norm.weight, 0)
        if name == "image_landscape":
            measure("image tokens causal (no token_type_ids)", token_type_ids=None)
            flipped = images["landscape"].transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            flipped_pixels = processor.image_processor(images=[flipped], return_tensors="pt")["pixel_values"]
            measure("image mirrored", pixel_values=flipped_pixels)
            projector = model.model.multi_modal_projector
            with_param("mm_soft_emb_norm weight 0 (scale 1)", projector.mm_soft_emb_norm.weight, 0)
            with_param("image embeddings scaled by sqrt(hidden)", projector.mm_input_projection_weight,
                       projector.mm_input_projection_weight * math.sqrt(HIDDEN))
            vision = model.model.vision_tower
            with_param("vision post_layernorm weight 1", vision.post_layernorm.weight, 1)
    width = max(len(k) for k in report)
    print("  max |Δlogit| (logit std ≈ %.2f):" % float(run(model, inputs_by_name["image_landscape"]).std()))
    for key, value in report.items():
        print(f"    {key:{width}s} {value:8.4f}")
        assert value > 1e-2, key
    return report


# ------------------------------------------------------------------ llama.cpp (second opinion)

def llama_cpp_modules():
    import llama_cpp
    import make_model_fixtures as mmf          # LlamaRun: CPU, f32 KV cache, flash attention off, no repacking
    import make_vision_fixtures as mvf         # Mtmd: libmtmd with the reference settings, inp_raw capture
    llama_cpp.llama_backend_init()
    mmf._install_logger()
    from llama_cpp import mtmd_cpp
    mtmd_cpp.mtmd_log_set(mmf._install_logger.keep, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(mmf._install_logger.keep, ctypes.c_void_p(0))
    return llama_cpp, mmf, mvf


def llama_tokenize(L, vocab, text: str, add_special: bool, parse_special: bool) -> list[int]:
    data = text.encode()
    buf = (L.llama_token * (len(data) + 8))()
    n = L.llama_tokenize(vocab, data, len(data), buf, len(buf), add_special, parse_special)
    assert n >= 0, n
    return [int(buf[i]) for i in range(n)]


def decode_embeddings(run, emb: np.ndarray, non_causal: bool) -> np.ndarray:
    """Appends image embeddings [n, n_embd] in one batch (non-causal as mtmd's helper does for
    Gemma 3); returns the logits of every row."""
    L = run.L
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
        if non_causal:
            L.llama_set_causal_attn(run.ctx, False)
        rc = L.llama_decode(run.ctx, batch)
        if non_causal:
            L.llama_set_causal_attn(run.ctx, True)
        assert rc == 0, f"llama_decode returned {rc}"
    finally:
        L.llama_batch_free(batch)
    logits = np.empty((n, run.n_vocab), dtype=np.float32)
    for i in range(n):
        logits[i] = np.ctypeslib.as_array(L.llama_get_logits_ith(run.ctx, i), shape=(run.n_vocab,))
    run.n_past += n
    return logits


def llama_cpp_logits(mmf, path: Path, ids: list[int], image_embeddings: np.ndarray | None = None,
                     non_causal: bool = True) -> np.ndarray:
    """The prompt's logits at every position from llama.cpp: the text runs by token id, the
    image span (the `<image_soft_token>` ids) as embeddings in one batch."""
    run = mmf.LlamaRun(path)
    try:
        rows, i = [], 0
        while i < len(ids):
            if ids[i] == IMAGE_TOKEN_ID:
                assert image_embeddings is not None and ids[i:i + MM_TOKENS] == [IMAGE_TOKEN_ID] * MM_TOKENS
                rows.append(decode_embeddings(run, image_embeddings, non_causal))
                i += MM_TOKENS
            else:
                j = i
                while j < len(ids) and ids[j] != IMAGE_TOKEN_ID:
                    j += 1
                rows.append(run.decode(ids[i:j]))
                i = j
        return np.concatenate(rows)
    finally:
        run.close()


def mtmd_image_embeddings(mvf, mmproj: Path, run, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """libmtmd's embeddings for one image, its preprocessed input (inp_raw) and the chunk layout
    around the media marker."""
    mt = mvf.Mtmd(mmproj, run)
    try:
        chunks = mt.tokenize(dict(text=f"a{mvf.MEDIA_MARKER}b", add_special=False, parse_special=True), rgb)
        infos = [mt.describe(c) for c in mt.chunk_list(chunks)]
        image_chunks = [c for c, info in zip(mt.chunk_list(chunks), infos) if info["type"] == "image"]
        assert len(image_chunks) == 1
        emb, raw = mt.encode(image_chunks[0])
        mt.free_chunks(chunks)
        return emb, raw, {"chunks": infos}
    finally:
        mt.close()


def llama_cpp_references(out: Path, text_f32: Path, text_f16: Path, mmproj: Path, tokenizer, prompts: list[dict],
                         image_entries: list[dict], images: dict[str, Image.Image],
                         resized_images: dict[str, np.ndarray]) -> dict:
    L, mmf, mvf = llama_cpp_modules()
    result: dict = {"settings": {"n_ctx": mmf.CONTEXT_LENGTH, "n_ubatch": mmf.CONTEXT_LENGTH, "type_k": "f32",
                                 "type_v": "f32", "flash_attn": "disabled", "use_extra_bufts": False,
                                 "n_threads": mmf.N_THREADS,
                                 "image_batch": "one llama_decode of the image's embeddings with "
                                                "llama_set_causal_attn(false), as mtmd_helper_decode_image_chunk "
                                                "does for Gemma 3"}}
    hf = {p["name"]: p for p in prompts}
    hf_logits = {p["name"]: np.fromfile(out / p["logits"]["file"], "<f4").reshape(p["logits"]["shape"])
                 for p in prompts}

    # --- tokenizer and chat template (the F32 file's vocabulary and template)
    run = mmf.LlamaRun(text_f32)
    vocab = L.llama_model_get_vocab(run.model)
    template = L.llama_model_chat_template(run.model, None).decode()
    assert template == CHAT_TEMPLATE, "the GGUF's tokenizer.chat_template is not the template of hf/"
    chats = []
    for chat in CHATS:
        msgs = (L.llama_chat_message * len(chat["messages"]))(
            *[L.llama_chat_message(m["role"].encode(), m["content"].encode()) for m in chat["messages"]])
        buf = ctypes.create_string_buffer(4096)
        n = L.llama_chat_apply_template(template.encode(), msgs, len(chat["messages"]), True, buf, len(buf))
        assert 0 < n < len(buf), n
        rendered = buf.raw[:n].decode()
        hf_text = tokenizer.apply_chat_template(chat["messages"], tokenize=False, add_generation_prompt=True)
        hf_ids = tokenizer(hf_text, add_special_tokens=False)["input_ids"]
        ids = llama_tokenize(L, vocab, rendered, add_special=True, parse_special=True)
        chats.append({"name": chat["name"], "messages": chat["messages"], "add_generation_prompt": True,
                      "llama_cpp_text": rendered, "hf_text": hf_text,
                      "hf_text_is_bos_plus_llama_cpp_text": hf_text == "<bos>" + rendered,
                      "llama_cpp_ids": ids, "hf_ids": hf_ids, "ids_equal": ids == hf_ids})
        print(f"  chat {chat['name']:20s} llama.cpp == HF minus <bos>: {hf_text == '<bos>' + rendered}, "
              f"ids equal: {ids == hf_ids}")
    result["chat_templates"] = chats
    tokens = []
    for text in TOKENIZER_CORPUS:
        entry = {"text": text,
                 "hf_with_special": tokenizer(text, add_special_tokens=True)["input_ids"],
                 "hf_without_special": tokenizer(text, add_special_tokens=False)["input_ids"],
                 "llama_cpp_special": llama_tokenize(L, vocab, text, True, True),
                 "llama_cpp_plain": llama_tokenize(L, vocab, text, False, False)}
        entry["special_equal"] = entry["hf_with_special"] == entry["llama_cpp_special"]
        tokens.append(entry)
    result["tokenizer"] = tokens
    mismatches = [t["text"] for t in tokens if not t["special_equal"]]
    print(f"  tokenizer: {len(tokens) - len(mismatches)}/{len(tokens)} strings tokenized alike by HF "
          f"(add_special_tokens) and llama.cpp (add_special, parse_special)"
          + (f"; differ: {mismatches!r}" if mismatches else ""))
    for p in prompts:
        ids = llama_tokenize(L, vocab, p["expanded_text"], add_special=False, parse_special=True)
        p["llama_cpp_tokenizes_expanded_text_alike"] = ids == p["ids"]
    run.close()

    # --- text-only logits (F32 and F16 files)
    agreement = {}
    ids = hf["text_only"]["ids"]
    for label, path in (("f32", text_f32), ("f16", text_f16)):
        logits = llama_cpp_logits(mmf, path, ids)
        agreement[f"text_only.{label}"] = {"max_rel_vs_hf": max_rel(logits, hf_logits["text_only"]),
                                           "argmax_equal": float(np.mean(logits.argmax(1) == hf_logits["text_only"].argmax(1)))}
        if label == "f32":
            agreement["text_only.f32"]["logits"] = write_f32(out, "llama.cpp.f32.text_only.f32.bin", logits)

    # --- image embeddings from libmtmd: Pillow-resized input (exact HF pixels) and the raw image
    run = mmf.LlamaRun(text_f32)
    embeddings = {}
    for entry in image_entries:
        hf_pixels = np.fromfile(out / entry["pixel_values"]["file"], "<f4").reshape(entry["pixel_values"]["shape"])
        hf_emb = np.fromfile(out / entry["image_embeddings"]["file"], "<f4").reshape(entry["image_embeddings"]["shape"])
        resized = resized_images[entry["name"]]
        emb, raw, layout = mtmd_image_embeddings(mvf, mmproj, run, resized)
        raw_emb, raw_input, _ = mtmd_image_embeddings(mvf, mmproj, run, np.asarray(images[entry["name"]]))
        embeddings[entry["name"]] = emb
        agreement[f"image_embeddings.{entry['name']}"] = {
            "pillow_resized_input": {"pixels_max_abs_vs_hf": float(np.abs(raw - hf_pixels).max()),
                                     "max_rel_vs_hf": max_rel(emb, hf_emb)},
            "mtmd_own_resize": {"pixels_max_abs_vs_hf": float(np.abs(raw_input - hf_pixels).max()),
                                "max_rel_vs_hf": max_rel(raw_emb, hf_emb)},
            "mtmd_chunks_for_a<__media__>b": layout["chunks"]}
    run.close()

    # --- image prompts: mtmd's embeddings of the Pillow-resized image in HF's token sequence
    for p in prompts:
        if p["image"] is None:
            continue
        logits = llama_cpp_logits(mmf, text_f32, p["ids"], embeddings[p["image"]])
        causal = llama_cpp_logits(mmf, text_f32, p["ids"], embeddings[p["image"]], non_causal=False)
        hf_emb = np.fromfile(out / f"image_embeddings.{p['image']}.f32.bin", "<f4").reshape(MM_TOKENS, HIDDEN)
        with_hf_emb = llama_cpp_logits(mmf, text_f32, p["ids"], hf_emb)
        agreement[p["name"]] = {
            "max_rel_vs_hf": max_rel(logits, hf_logits[p["name"]]),
            "argmax_equal": float(np.mean(logits.argmax(1) == hf_logits[p["name"]].argmax(1))),
            "with_hf_image_embeddings_max_rel_vs_hf": max_rel(with_hf_emb, hf_logits[p["name"]]),
            "image_batch_causal_max_rel_vs_hf": max_rel(causal, hf_logits[p["name"]])}
        if p["name"] == "image_landscape":
            agreement[p["name"]]["logits"] = write_f32(out, f"llama.cpp.f32.{p['name']}.f32.bin", logits)
    result["agreement"] = agreement
    result["definition"] = "max_rel: max |llama.cpp - HF| / max |HF| over the whole tensor"
    for key, value in agreement.items():
        figures = {k: v for k, v in value.items() if isinstance(v, float)}
        figures.update({f"{k}.{kk}": vv for k, v in value.items() if isinstance(v, dict) and k != "logits"
                        for kk, vv in v.items() if isinstance(vv, float)})
        print(f"  {key:28s} " + "  ".join(f"{k} {v:.2e}" for k, v in figures.items()))
    return result


# ------------------------------------------------------------------ checks

class GgmlF16Gelu(torch.nn.Module):
    """ggml's CPU GELU (GGML_GELU_FP16): the input rounded to f16, the tanh GELU looked up in an
    f16 table; 0 below -10, identity above 10."""

    def forward(self, x):
        y = torch.nn.functional.gelu(x.half().float(), approximate="tanh").half().float()
        return torch.where(x <= -10, torch.zeros_like(x), torch.where(x >= 10, x, y))


def checks(out: Path, model, inputs_by_name: dict, llama_cpp: dict) -> dict:
    """Checks, not references: the references' own rounding (float32 against float64), and
    what explains llama.cpp's distance (its f16 GELU table)."""
    result = {}
    model64 = Gemma3ForConditionalGeneration(model.config).eval()
    model64.load_state_dict(model.state_dict())
    model64 = model64.double()
    for name in ("text_only", "image_landscape"):
        inputs = inputs_by_name[name]
        ref = run(model, inputs)
        overrides = {"pixel_values": inputs["pixel_values"].double()} if "pixel_values" in inputs else {}
        result[f"{name}.hf_float32_vs_float64"] = max_rel(ref, run(model64, inputs, **overrides))
    lm = model.model.language_model
    saved = [layer.mlp.act_fn for layer in lm.layers]
    for layer in lm.layers:
        layer.mlp.act_fn = GgmlF16Gelu()
    emulated = run(model, inputs_by_name["text_only"]).numpy()
    for layer, act in zip(lm.layers, saved):
        layer.mlp.act_fn = act
    entry = llama_cpp["agreement"]["text_only.f32"]["logits"]
    llama = np.fromfile(out / entry["file"], "<f4").reshape(entry["shape"])
    result["text_only.hf_with_ggml_f16_gelu_vs_llama_cpp_f32"] = max_rel(llama, emulated)
    for key, value in result.items():
        print(f"  {key:48s} {value:.2e}")
    return result


# ------------------------------------------------------------------ main

HF_FILES_KEPT = ("config.json", "generation_config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                 "chat_template.jinja", "processor_config.json", "preprocessor_config.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--llama-cpp-src", type=Path, default=None,
                        help="the unpacked llama-cpp-python 0.3.36 sdist (default: .build-bench/llama_cpp_python-0.3.36 "
                             "if there, else downloaded with pip)")
    args = parser.parse_args()
    out: Path = args.out
    hf_dir, image_dir = out / "hf", out / "images"
    for d in (out, hf_dir, image_dir):
        d.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("*.bin")) + list(out.glob("*.gguf")):
        old.unlink()
    scratch = Path(tempfile.mkdtemp(prefix="gemma3-fixtures-"))
    try:
        build(out, hf_dir, image_dir, scratch, find_llama_cpp_src(args.llama_cpp_src, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build(out: Path, hf_dir: Path, image_dir: Path, scratch: Path, llama_cpp_src: Path) -> None:
    import transformers
    torch.manual_seed(SEED)
    checkpoint = scratch / "checkpoint"            # the full HF checkpoint, weights included (not kept)
    checkpoint.mkdir()

    # --- images
    images = {}
    for spec in IMAGES:
        Image.fromarray(make_image(spec["width"], spec["height"], spec["seed"])).save(image_dir / spec["file"])
        images[spec["name"]] = load_rgb(image_dir / spec["file"])

    # --- tokenizer, processor, model
    tokenizer = build_tokenizer(checkpoint, train_sentencepiece())
    tokenizer.chat_template = CHAT_TEMPLATE
    image_processor = Gemma3ImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=2,
                                              do_resize=True, do_rescale=True, rescale_factor=1 / 255,
                                              do_normalize=True, image_mean=MEAN, image_std=STD,
                                              do_convert_rgb=True, do_pan_and_scan=False)
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE,
                                image_seq_length=MM_TOKENS)
    processor.save_pretrained(checkpoint)
    image_processor.save_pretrained(checkpoint)    # preprocessor_config.json, as the hub repos have it
    hub_style_tokenizer_config(checkpoint)

    cfg = config()
    model = Gemma3ForConditionalGeneration(cfg).float().eval()
    unit_scale_weights(model, SEED)
    model.generation_config.bos_token_id, model.generation_config.pad_token_id = 2, 0
    model.generation_config.eos_token_id = [1, len(SPECIALS) + USER_DEFINED.index("<end_of_turn>")]
    model.save_pretrained(checkpoint, safe_serialization=True)
    for name in HF_FILES_KEPT:
        shutil.copy(checkpoint / name, hf_dir / name)

    # Reload as a user would, so the references come from the saved files.
    processor = Gemma3Processor.from_pretrained(checkpoint, backend="pil")
    tokenizer = processor.tokenizer
    model = Gemma3ForConditionalGeneration.from_pretrained(checkpoint, dtype=torch.float32,
                                                           attn_implementation="eager").eval()
    assert type(processor.image_processor).__name__ == "Gemma3ImageProcessorPil", type(processor.image_processor)
    assert processor.image_processor.do_pan_and_scan is False or processor.image_processor.do_pan_and_scan is None
    assert processor.image_seq_length == MM_TOKENS and model.config.image_token_id == IMAGE_TOKEN_ID
    assert model.config.text_config.layer_types == cfg.text_config.layer_types
    assert model.model.multi_modal_projector.kernel_size == 4
    assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()

    # --- GGUFs, with llama.cpp's own converter
    hub = scratch / "gemma3-hub-layout"
    hub_layout_checkpoint(checkpoint, hub)
    files = {"text_f32": out / "gemma3-text-f32.gguf", "text_f16": out / "gemma3-text-f16.gguf",
             "mmproj_f32": out / "mmproj-gemma3-f32.gguf"}
    logs = {"text_f32": convert(llama_cpp_src, hub, files["text_f32"], "f32", mmproj=False),
            "text_f16": convert(llama_cpp_src, hub, files["text_f16"], "f16", mmproj=False),
            "mmproj_f32": convert(llama_cpp_src, hub, files["mmproj_f32"], "f32", mmproj=True)}
    ggufs = {k: {"file": p.name, "bytes": p.stat().st_size, **gguf_summary(p)} for k, p in files.items()}
    for key, entry in ggufs.items():
        print(f"  {entry['file']}: {entry['bytes'] / 1e6:.2f} MB, {len(entry['tensors'])} tensors, types "
              f"{sorted({t['type'] for t in entry['tensors'].values()})}")
    assert "Correcting norm value for 'multi_modal_projector.mm_soft_emb_norm.weight'" in logs["mmproj_f32"]

    tc = cfg.text_config
    refs: dict = {
        "generator": "Scripts/make_gemma3_fixtures.py", "seed": SEED,
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "sentencepiece": spm.__version__, "llama_cpp_python_sdist": llama_cpp_src.name},
        "model": {"vocab_size": VOCAB, "sentencepiece_pieces": SP_VOCAB, "image_token_id": IMAGE_TOKEN_ID,
                  "boi_token_id": cfg.boi_token_index, "eoi_token_id": cfg.eoi_token_index,
                  "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
                  "end_of_turn_id": len(SPECIALS) + USER_DEFINED.index("<end_of_turn>"),
                  "hidden_size": HIDDEN, "num_hidden_layers": NUM_LAYERS, "layer_types": tc.layer_types,
                  "num_attention_heads": tc.num_attention_heads, "num_key_value_heads": tc.num_key_value_heads,
                  "head_dim": HEAD_DIM, "intermediate_size": tc.intermediate_size,
                  "sliding_window": SLIDING_WINDOW, "rope_parameters": tc.rope_parameters,
                  "query_pre_attn_scalar": tc.query_pre_attn_scalar, "rms_norm_eps": tc.rms_norm_eps,
                  "embed_scale": float(model.model.language_model.embed_tokens.embed_scale),
                  "image_size": IMAGE_SIZE, "patch_size": PATCH, "mm_tokens_per_image": MM_TOKENS,
                  "pooling_kernel": model.model.multi_modal_projector.kernel_size,
                  "vision_hidden_size": cfg.vision_config.hidden_size,
                  "vision_layers": cfg.vision_config.num_hidden_layers,
                  "vision_heads": cfg.vision_config.num_attention_heads,
                  "vision_intermediate_size": cfg.vision_config.intermediate_size,
                  "vision_layer_norm_eps": cfg.vision_config.layer_norm_eps,
                  "image_mean": MEAN, "image_std": STD, "attn_implementation": "eager",
                  "image_processor": "Gemma3ImageProcessorPil (Pillow BILINEAR to image_size x image_size, "
                                     "x/255 in f64 then f32, (x - mean) / std in f32; no pan-and-scan)",
                  "full_image_sequence": processor.full_image_sequence.replace(IMAGE_TOKEN * MM_TOKENS,
                                                                               f"{IMAGE_TOKEN} x {MM_TOKENS}")},
        "ggufs": ggufs,
    }

    print("images:")
    resized_images: dict[str, np.ndarray] = {}
    refs["images"] = image_references(out, model, processor.image_processor, images, resized_images)
    print("prompts:")
    refs["prompts"], inputs_by_name = model_references(out, model, processor, images)
    refs["intermediates"] = {"hidden_states": hidden_states(out, model, inputs_by_name["image_landscape"],
                                                            "image_landscape")}
    print("sensitivity:")
    refs["sensitivity"] = sensitivity(model, processor, inputs_by_name, images)
    print("llama.cpp:")
    refs["llama_cpp"] = llama_cpp_references(out, files["text_f32"], files["text_f16"], files["mmproj_f32"], tokenizer,
                                             refs["prompts"], refs["images"], images, resized_images)
    print("checks:")
    refs["checks"] = checks(out, model, inputs_by_name, refs["llama_cpp"])
    refs["tokenizer"] = refs["llama_cpp"].pop("tokenizer")
    refs["chat_templates"] = refs["llama_cpp"].pop("chat_templates")

    (out / "references.json").write_text(json.dumps(refs, indent=1, ensure_ascii=False, default=_json) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {total / 1e6:.2f} MB")


def _json(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value))


if __name__ == "__main__":
    main()
