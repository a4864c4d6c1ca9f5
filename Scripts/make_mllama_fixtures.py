#!/usr/bin/env python3
"""Build the mllama (Llama 3.2 Vision) fixtures for Ponder's Inference tests.

Writes Tests/InferenceTests/Fixtures/mllama/:
  * hf/: a tiny random `MllamaForConditionalGeneration` in HF layout (float32 safetensors,
    config, a 384-token byte-level BPE tokenizer with Llama 3 specials and `<|image|>` = 384,
    a Llama 3.2 Vision style chat template, MllamaImageProcessor settings, generation config);
  * images/: PNG test images (1, 2, 3 and 4 tiles, plus preprocessing-only extras);
  * *.f32.bin: little-endian float32 references from transformers (preprocessing, end-to-end
    logits at every position, vision and projector outputs, per-layer hidden states);
  * references.json: what every file holds (shapes, prompts, token ids).

The weights are unit-scale (HF zero-initialises the tanh gates): every gate, the tile
embeddings and the image visibly move the logits; the script prints by how much.

Usage:  python3 Scripts/make_mllama_fixtures.py [--out DIR]
Needs:  torch (CPU), torchvision, transformers 5.x, tokenizers, numpy, pillow, safetensors.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "mllama"
SEED = 20241203

torch.set_num_threads(2)


def import_torchvision():
    """Import torchvision. The PyPI wheel is built against CUDA torch; on a CPU-only torch its
    C extension does not load and `import torchvision` fails registering fake kernels for
    `torchvision::nms`. Those ops are not used here, so declaring their schemas lets the
    pure-Python transforms (which call torch's own interpolate) import."""
    try:
        import torchvision  # noqa: F401
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
        for name in [n for n in sys.modules if n.startswith("torchvision")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import_torchvision.keep = lib
        import torchvision  # noqa: F401


import_torchvision()

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoImageProcessor, AutoProcessor, AutoTokenizer, MllamaConfig, MllamaForConditionalGeneration,
    MllamaImageProcessor, MllamaProcessor, PreTrainedTokenizerFast,
)
from transformers.models.mllama import image_processing_mllama as ipm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mllama_fixture_data import (  # noqa: E402
    CHAT_TEMPLATE, IMAGES, PROMPTS, TOKENIZER_CORPUS, TRAINING_TEXT, make_image,
)

# ------------------------------------------------------------------ shapes

VOCAB = 384                      # text vocabulary; `<|image|>` is id VOCAB
IMAGE_SIZE, PATCH, MAX_TILES = 56, 14, 4
MEAN = [0.48145466, 0.4578275, 0.40821073]   # Llama 3.2 Vision (CLIP) statistics
STD = [0.26862954, 0.26130258, 0.27577711]
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
            "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>",
            "<|python_tag|>"]
IMAGE_TOKEN = "<|image|>"
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def config() -> MllamaConfig:
    text = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=5, cross_attention_layers=[1, 3],
                num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
                rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0,
                                     low_freq_factor=1.0, high_freq_factor=4.0,
                                     original_max_position_embeddings=64),
                rms_norm_eps=1e-5, max_position_embeddings=256, tie_word_embeddings=False,
                bos_token_id=VOCAB - len(SPECIALS), eos_token_id=VOCAB - len(SPECIALS) + 9,
                pad_token_id=VOCAB - len(SPECIALS) + 4)
    vision = dict(image_size=IMAGE_SIZE, patch_size=PATCH, hidden_size=32, attention_heads=4,
                  num_hidden_layers=4, num_global_layers=2, intermediate_size=64,
                  intermediate_layers_indices=[1, 3], vision_output_dim=32 * 3,
                  max_num_tiles=MAX_TILES,
                  supported_aspect_ratios=[list(r) for r in ipm.get_all_supported_aspect_ratios(MAX_TILES)],
                  norm_eps=1e-5)
    return MllamaConfig(text_config=text, vision_config=vision, image_token_index=VOCAB)


# ------------------------------------------------------------------ tokenizer

def build_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - len(SPECIALS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[])
    tok.train_from_iterator(TRAINING_TEXT, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB - len(SPECIALS), tok.get_vocab_size()
    # Llama 3 tokenizers set ignore_merges: a pre-token that is itself in the vocabulary is one token.
    spec = json.loads(tok.to_str())
    spec["model"]["ignore_merges"] = True
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.add_special_tokens(SPECIALS + [IMAGE_TOKEN])
    assert tok.token_to_id(SPECIALS[0]) == VOCAB - len(SPECIALS)
    assert tok.token_to_id(IMAGE_TOKEN) == VOCAB
    bos = SPECIALS[0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
        special_tokens=[(bos, tok.token_to_id(bos))])
    return tok


# ------------------------------------------------------------------ weights

GATE_NAMES = ("gate", "gate_attn", "gate_ffn", "cross_attn_attn_gate", "cross_attn_mlp_gate")


def unit_scale_weights(model: torch.nn.Module, seed: int) -> None:
    """Replace HF's initialisation (zero gates, tiny embeddings) by unit-scale random values."""
    gen = torch.Generator().manual_seed(seed)
    def normal(shape):
        return torch.randn(shape, generator=gen, dtype=torch.float32)
    with torch.no_grad():
        for module_name, module in model.named_modules():
            is_norm = isinstance(module, torch.nn.LayerNorm) or type(module).__name__.endswith("RMSNorm")
            is_embedding = isinstance(module, torch.nn.Embedding)
            for leaf, p in module.named_parameters(recurse=False):
                if leaf in GATE_NAMES:
                    magnitude = 0.3 + 0.9 * torch.rand(p.shape, generator=gen)
                    sign = torch.where(torch.rand(p.shape, generator=gen) < 0.5, -1.0, 1.0)
                    p.copy_(magnitude * sign)
                elif is_norm and leaf == "weight":
                    p.copy_(1 + 0.1 * normal(p.shape))
                elif leaf == "bias":
                    p.copy_(0.1 * normal(p.shape))
                elif is_embedding or p.ndim == 1 or leaf == "embedding":
                    p.copy_(normal(p.shape))           # embeddings, class embedding
                else:
                    fan_in = math.prod(p.shape[1:])
                    p.copy_(normal(p.shape) / math.sqrt(fan_in))


# ------------------------------------------------------------------ helpers

def write_f32(out: Path, name: str, array) -> dict:
    a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    (out / name).write_bytes(a.tobytes())
    return {"file": name, "shape": list(a.shape)}


def load_rgb(path: Path) -> Image.Image:
    return Image.open(path).convert("RGB")


def preprocessing_references(out: Path, image_processor) -> list[dict]:
    """MllamaImageProcessor's outputs for every test image, plus the canvas and resized size
    from its own helpers (transformers' get_optimal_tiled_canvas, get_image_size_fit_to_canvas)."""
    entries = []
    for spec in IMAGES:
        image = load_rgb(out / "images" / spec["file"])
        result = image_processor(images=[[image]], return_tensors="pt")
        pixels = result["pixel_values"][0, 0]                       # [max_tiles, 3, S, S]
        num_tiles = int(result["num_tiles"][0][0])
        assert num_tiles == spec["tiles"], (spec["file"], num_tiles)
        # The tiles after num_tiles are exact zeros (pad_batches_and_tiles); only the used ones are stored.
        assert bool((pixels[num_tiles:] == 0).all()), spec["file"]
        pixels = pixels[:num_tiles]
        canvas = ipm.get_optimal_tiled_canvas(spec["height"], spec["width"], MAX_TILES, IMAGE_SIZE)
        resized = ipm.get_image_size_fit_to_canvas(spec["height"], spec["width"], int(canvas[0]),
                                                   int(canvas[1]), IMAGE_SIZE)
        stem = spec["file"].rsplit(".", 1)[0]
        entry = {"image": "images/" + spec["file"], "width": spec["width"], "height": spec["height"],
                 "pixel_values": write_f32(out, f"pixels.{stem}.f32.bin", pixels.numpy()),
                 "num_tiles": num_tiles,
                 "tile_grid": [int(canvas[0]) // IMAGE_SIZE, int(canvas[1]) // IMAGE_SIZE],
                 "aspect_ratio_id": int(result["aspect_ratio_ids"][0, 0]),
                 "aspect_ratio_mask": result["aspect_ratio_mask"][0, 0].tolist(),
                 "canvas_height_width": [int(canvas[0]), int(canvas[1])],
                 "resized_height_width": [int(resized[0]), int(resized[1])]}
        entries.append(entry)
        print(f"  {spec['file']:22s} tiles {num_tiles} grid {entry['tile_grid']} id {entry['aspect_ratio_id']}"
              f" canvas {entry['canvas_height_width']} resized {entry['resized_height_width']}")
    return entries


def prompt_inputs(processor, prompt: dict, image_override=None):
    messages = [{"role": "user", "content": prompt["parts"]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    image = image_override
    if image is None and prompt["image"] is not None:
        image = load_rgb(DEFAULT_IMAGE_DIR[0] / prompt["image"])
    if image is None:
        inputs = processor(text=text, add_special_tokens=False, return_tensors="pt")
    else:
        inputs = processor(images=[[image]], text=text, add_special_tokens=False, return_tensors="pt")
    return text, inputs


DEFAULT_IMAGE_DIR: list[Path] = []


def run(model, inputs) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits[0].float()


def model_references(out: Path, model, processor):
    DEFAULT_IMAGE_DIR[:] = [out / "images"]
    prompts, intermediates = [], {}
    for prompt in PROMPTS:
        text, inputs = prompt_inputs(processor, prompt)
        ids = inputs["input_ids"][0].tolist()
        # The processor's own tokenization of the template must agree with ours.
        parts = [dict(part, image=load_rgb(out / "images" / prompt["image"])) if part["type"] == "image" else part
                 for part in prompt["parts"]]
        templated = processor.apply_chat_template(
            [{"role": "user", "content": parts}], add_generation_prompt=True, tokenize=True,
            return_dict=True)["input_ids"]
        templated = templated[0] if templated and isinstance(templated[0], list) else templated
        assert list(templated) == ids, (templated, ids)
        logits = run(model, inputs)
        entry = {"name": prompt["name"], "image": None if prompt["image"] is None else "images/" + prompt["image"],
                 "messages": [{"role": "user", "content": prompt["parts"]}], "text": text, "ids": ids,
                 "logits": write_f32(out, f"logits.{prompt['name']}.f32.bin", logits.numpy())}
        if "cross_attention_mask" in inputs:
            mask = inputs["cross_attention_mask"][0, :, 0, :]          # [positions, max_tiles]
            entry["cross_attention_mask"] = mask.tolist()
            entry["first_row_with_image"] = int(ids.index(VOCAB))
            entry["aspect_ratio_id"] = int(inputs["aspect_ratio_ids"][0, 0])
            entry["num_tiles"] = int(inputs["aspect_ratio_mask"][0, 0].sum())
        prompts.append(entry)
        print(f"  {prompt['name']:18s} {len(ids)} tokens, logits std {logits.std():.3f}")
        if prompt["name"] in ("tiles1", "tiles4"):
            intermediates[prompt["name"]] = vision_intermediates(out, model, inputs, prompt["name"])
        if prompt["name"] == "tiles1":
            intermediates["hidden_states"] = hidden_states(out, model, inputs, prompt["name"])
    return prompts, intermediates, sensitivity(model, processor)


def vision_intermediates(out: Path, model, inputs, name: str) -> dict:
    with torch.no_grad():
        vision = model.model.vision_model(pixel_values=inputs["pixel_values"],
                                          aspect_ratio_ids=inputs["aspect_ratio_ids"],
                                          aspect_ratio_mask=inputs["aspect_ratio_mask"]).last_hidden_state
        projected = model.model.multi_modal_projector(vision).reshape(-1, vision.shape[-2],
                                                                      model.config.text_config.hidden_size)
    return {"vision_output": write_f32(out, f"vision_output.{name}.f32.bin", vision.numpy()),
            "cross_attention_states": write_f32(out, f"cross_attention_states.{name}.f32.bin", projected.numpy()),
            "note": "vision_output: [batch, images, max_tiles, patches+class, 3*hidden] before the projector "
                    "(global-encoder output in features 0..hidden-1, then the outputs of the local layers "
                    "intermediate_layers_indices (0-based), interleaved: feature hidden + 2d + k is dimension d "
                    "of layer intermediate_layers_indices[k]); "
                    "cross_attention_states: after multi_modal_projector, reshaped to "
                    "[batch*images*max_tiles, patches+class, text hidden] as MllamaModel does. All max_tiles "
                    "tiles are encoded, the padding ones included."}


def hidden_states(out: Path, model, inputs, name: str) -> dict:
    text_model = model.model.language_model
    captured = []
    hooks = [text_model.embed_tokens.register_forward_hook(lambda m, i, o: captured.append(o[0]))]
    for layer in text_model.layers:
        hooks.append(layer.register_forward_hook(
            lambda m, i, o: captured.append((o[0] if isinstance(o, tuple) else o)[0])))
    hooks.append(text_model.norm.register_forward_hook(lambda m, i, o: captured.append(o[0])))
    run(model, inputs)
    for hook in hooks:
        hook.remove()
    stacked = torch.stack(captured)                                    # [1 + layers + 1, positions, hidden]
    return {**write_f32(out, f"hidden_states.{name}.f32.bin", stacked.numpy()),
            "note": "index 0: token embeddings; 1..num_hidden_layers: after decoder layer i-1 "
                    "(layers 1 and 3 are cross-attention layers); last: after the final RMSNorm"}


def sensitivity(model, processor) -> dict:
    """Max |Δlogit| when the image changes and when each gate (or tile embedding) is zeroed."""
    prompt = next(p for p in PROMPTS if p["name"] == "tiles4")
    _, inputs = prompt_inputs(processor, prompt)
    base = run(model, inputs)
    report = {}
    flipped = load_rgb(DEFAULT_IMAGE_DIR[0] / prompt["image"]).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    _, other = prompt_inputs(processor, prompt, image_override=flipped)
    report["image_flipped"] = float((run(model, other) - base).abs().max())
    targets = [(n, p) for n, p in model.named_parameters() if n.split(".")[-1] in GATE_NAMES]
    targets += [(n, p) for n, p in model.named_parameters()
                if "tile_positional_embedding.embedding" in n or "gated_positional_embedding.tile_embedding" in n]
    for name, param in targets:
        saved = param.detach().clone()
        with torch.no_grad():
            param.zero_()
        report["zeroed " + name] = float((run(model, inputs) - base).abs().max())
        with torch.no_grad():
            param.copy_(saved)
    print("  max |Δlogit| on the 4-tile prompt (logit std %.3f):" % float(base.std()))
    for key, value in report.items():
        print(f"    {value:9.4f}  {key}")
        assert value > 1e-2, key
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    out: Path = args.out
    hf_dir, image_dir = out / "hf", out / "images"
    for d in (out, hf_dir, image_dir):
        d.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.f32.bin"):
        old.unlink()
    torch.manual_seed(SEED)

    # --- images
    for spec in IMAGES:
        Image.fromarray(make_image(spec["width"], spec["height"], spec["seed"])).save(image_dir / spec["file"])

    # --- tokenizer, processor, model
    tok = build_tokenizer()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIALS[0], eos_token="<|eot_id|>",
                                   pad_token="<|finetune_right_pad_id|>", add_bos_token=True,
                                   model_max_length=256)
    image_processor = MllamaImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                                           max_image_tiles=MAX_TILES, image_mean=MEAN, image_std=STD,
                                           do_resize=True, do_pad=True, do_rescale=True,
                                           do_normalize=True, do_convert_rgb=True, resample=2,
                                           rescale_factor=1 / 255)
    processor = MllamaProcessor(image_processor=image_processor, tokenizer=fast, chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(hf_dir)
    image_processor.save_pretrained(hf_dir)                   # preprocessor_config.json, as hub repos have it
    tokenizer_config = json.loads((hf_dir / "tokenizer_config.json").read_text())
    tokenizer_config.update(add_bos_token=True, add_eos_token=False)
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")

    cfg = config()
    model = MllamaForConditionalGeneration(cfg).float().eval()
    unit_scale_weights(model, SEED)
    model.generation_config.bos_token_id = cfg.text_config.bos_token_id
    model.generation_config.eos_token_id = [VOCAB - len(SPECIALS) + k for k in (1, 8, 9)]
    model.generation_config.pad_token_id = cfg.text_config.pad_token_id
    model.generation_config.do_sample, model.generation_config.temperature = True, 0.6
    model.generation_config.top_p = 0.9
    model.save_pretrained(hf_dir, safe_serialization=True)

    # Reload everything as a user would, so the references come from the saved files.
    processor = AutoProcessor.from_pretrained(hf_dir)
    image_processor = AutoImageProcessor.from_pretrained(hf_dir)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    model = MllamaForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32).eval()
    assert type(image_processor).__name__ == "MllamaImageProcessor", type(image_processor)
    assert tokenizer.convert_tokens_to_ids(IMAGE_TOKEN) == VOCAB == model.config.image_token_index
    assert model.model.language_model.embed_tokens.weight.shape[0] == VOCAB + 8
    assert model.lm_head.weight.shape[0] == VOCAB

    refs: dict = {"model": {"vocab_size": VOCAB, "image_token_id": VOCAB,
                            "bos_token_id": cfg.text_config.bos_token_id,
                            "eos_token_id": cfg.text_config.eos_token_id,
                            "embed_tokens_rows": VOCAB + 8, "image_size": IMAGE_SIZE, "patch_size": PATCH,
                            "max_num_tiles": MAX_TILES, "num_patches_per_tile": (IMAGE_SIZE // PATCH) ** 2 + 1,
                            "supported_aspect_ratios": cfg.vision_config.supported_aspect_ratios,
                            "image_mean": MEAN, "image_std": STD,
                            "image_processor_backend": type(image_processor).__mro__[1].__name__,
                            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}}

    # --- preprocessing
    refs["preprocessing"] = preprocessing_references(out, image_processor)

    # --- tokenizer
    refs["tokenizer"] = [{"text": text,
                          "ids_with_special": tokenizer(text, add_special_tokens=True)["input_ids"],
                          "ids_without_special": tokenizer(text, add_special_tokens=False)["input_ids"]}
                         for text in TOKENIZER_CORPUS]

    # --- end-to-end
    refs["prompts"], refs["intermediates"], refs["sensitivity"] = model_references(out, model, processor)

    (out / "references.json").write_text(json.dumps(refs, indent=1, ensure_ascii=False) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
