#!/usr/bin/env python3
"""Build the `ponder convert` parity fixtures.

For each family it
  1. trains a small byte-level BPE tokenizer with `tokenizers` (the family's pre-tokenizer),
  2. builds a tiny random-weight Hugging Face checkpoint with transformers (seeded; weights that keep
     activations at unit scale, not the 0.02 init, so that rounding and permutation errors show), saved as
     safetensors in the dtype the fixture names,
  3. runs llama.cpp's own convert_hf_to_gguf.py on it (text model, and `--mmproj` for vision
     models) at every output type the fixture lists, and records each GGUF: tensor names,
     dimensions, types and an FNV-1a 64 hash of each tensor's bytes; metadata keys and values,
  4. records transformers' logits of the text model for a prompt, and HF `tokenizers` ids for
     a corpus (multilingual text, digit runs, whitespace runs, special tokens).

llama.cpp's converter picks `tokenizer.ggml.pre` by hashing the tokenizer's output on a fixed
text; a freshly trained tokenizer matches no known model, so the reference run answers that
one question with the family's name (the value Ponder derives from the pre-tokenizer regex).

Output (Tests/InferenceTests/Fixtures/convert/): one folder per checkpoint, plus
references.json and <name>.logits.bin (raw little-endian f32, [n_prompt x n_vocab]).

Usage: python3 Scripts/make_convert_fixtures.py --llama-cpp DIR [--out DIR]
  DIR is llama.cpp's source (convert_hf_to_gguf.py and gguf-py), e.g. vendor/llama.cpp of the
  llama-cpp-python==0.3.36 sdist.
Needs: torch (CPU), transformers, tokenizers, safetensors, numpy.
"""
import argparse
import importlib.util
import json
import os
import random
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

# transformers imports torchvision when it is installed; a torchvision built for another torch
# fails to import ("operator torchvision::nms does not exist"). Nothing here needs it.
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a, **k: (
    None if name == "torchvision" or name.startswith("torchvision.") else _find_spec(name, *a, **k))

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import make_tokenizer_fixtures as tokfix  # noqa: E402  (corpus and random strings)

SEED = 20261206
LLAMA3_PATTERN = tokfix.LLAMA3_PATTERN
QWEN2_PATTERN = tokfix.QWEN2_PATTERN

LLAMA3_TEMPLATE = ("{{- bos_token }}{%- for message in messages %}<|start_header_id|>{{ message['role'] }}"
                   "<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>{%- endfor %}"
                   "{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{%- endif %}")
CHATML_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
                   "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SMOLVLM_TEMPLATE = ("<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}:"
                    "{{ message['content'] }}<end_of_utterance>\n{% endfor %}"
                    "{% if add_generation_prompt %}Assistant:{% endif %}")

TOKENIZERS = {
    "llama-bpe": dict(split=[LLAMA3_PATTERN], digits=False,
                      specials=["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                "<|end_header_id|>", "<|eot_id|>"], user=[],
                      bos="<|begin_of_text|>", eos="<|eot_id|>", pad=None, template_bos=True,
                      chat_template=LLAMA3_TEMPLATE, ignore_merges=True),
    "qwen2": dict(split=[QWEN2_PATTERN], digits=False,
                  specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], user=["<tool_call>"],
                  bos=None, eos="<|im_end|>", pad="<|endoftext|>", template_bos=False,
                  chat_template=CHATML_TEMPLATE, ignore_merges=False),
    "smollm": dict(split=[], digits=True,
                   specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<end_of_utterance>",
                             "<fake_token_around_image>", "<global-img>", "<image>"],
                   user=[], bos="<|im_start|>", eos="<end_of_utterance>", pad="<|endoftext|>",
                   template_bos=False, chat_template=SMOLVLM_TEMPLATE, ignore_merges=False),
}

FIXTURES = [
    dict(name="llama3", arch="LlamaForCausalLM", tokenizer="llama-bpe", dtype="bfloat16",
         types=["f32", "f16", "bf16"], vocab_padding=3, legacy_rope_keys=True),
    dict(name="qwen2", arch="Qwen2ForCausalLM", tokenizer="qwen2", dtype="float32",
         types=["f32"], vocab_padding=0),
    dict(name="smolvlm", arch="Idefics3ForConditionalGeneration", tokenizer="smollm", dtype="float16",
         types=["f32", "f16"], vocab_padding=0, image_size=32),
    # llama.cpp's convert_hf_to_gguf.py no longer writes LLaVA-1.5 projectors, so only the text
    # file has a llama.cpp reference; the projector is checked against transformers' image features.
    dict(name="llava", arch="LlavaForConditionalGeneration", tokenizer="llama-spm", dtype="bfloat16",
         types=["f32"], vocab_padding=0, image_size=28, mmproj_reference=False),
]

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

PROMPT = "The model answers in four stages: 3 red circles, 12 squares."

EXTRA_STRINGS = [
    "", " ", "  ", "\n", "\n\n\n", "\t\t x", "   leading and trailing   ", "a  b   c    d",
    "1 12 123 1234 12345 123456 1234567", "3.14159 and 2,718,281", "x=[i**2 for i in range(100)]",
    "Héllo wörld, naïve café — déjà vu", "привет мир как дела", "Ελλάδα καλημέρα φίλε",
    "你好世界，机器学习。", "東京タワー ありがとう", "안녕하세요 한국어", "😀 🚀 🎉 👍🏽 👨‍👩‍👧‍👦",
    "I'm sure you'll see we've IT'S", "don't WON'T can't",
    "<|im_start|>user\nWhat is this?<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "User:<image>What is in the image?<end_of_utterance>\nAssistant:",
    "text <tool_call>{\"name\": \"f\"}</tool_call> end", "<|endoftext|><|endoftext|>",
    "mixed\r\nline\rendings\n\r", "tabs\tand\u00a0nbsp\u3000ideographic space",
]


def fnv1a64(data: bytes) -> str:
    arr = np.frombuffer(data, dtype=np.uint8)
    h = 0xcbf29ce484222325
    prime = 0x100000001b3
    mask = 0xFFFFFFFFFFFFFFFF
    for byte in arr.tolist():
        h = ((h ^ byte) * prime) & mask
    return f"{h:016x}"


# --------------------------------------------------------------------------- tokenizer

def train_tokenizer(kind, corpus, vocab_size):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers, AddedToken
    spec = TOKENIZERS[kind]
    tok = Tokenizer(models.BPE(ignore_merges=spec["ignore_merges"]))
    if spec["digits"]:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in spec["split"]] +
            [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    from tokenizers import decoders
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in spec["specials"]])
    if spec["user"]:
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec["user"]])
    if spec["template_bos"]:
        bos = spec["bos"]
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                          special_tokens=[(bos, tok.token_to_id(bos))])])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


class SentencePieceTokenizer:
    """A SentencePiece BPE model with byte fallback, as Llama 2 / LLaVA-1.5 ship it
    (`tokenizer.model`), plus added tokens after its pieces. Reference ids come from the
    sentencepiece library itself, BOS first (what Llama 2's tokenizer gives)."""
    ADDED = ["<image>", "<pad>"]

    def __init__(self, corpus, vocab_size, workdir):
        import sentencepiece as spm
        prefix = os.path.join(workdir, "spm")
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus), model_prefix=prefix, vocab_size=vocab_size, model_type="bpe",
            byte_fallback=True, character_coverage=0.98, normalization_rule_name="identity",
            remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True,
            allow_whitespace_only_pieces=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
            minloglevel=2, shuffle_input_sentence=False)
        self.model_path = prefix + ".model"
        self.sp = spm.SentencePieceProcessor(model_file=self.model_path)
        self.size = self.sp.get_piece_size()

    def token_to_id(self, token):
        if token in self.ADDED:
            return self.size + self.ADDED.index(token)
        return self.sp.piece_to_id(token)

    def get_vocab_size(self, with_added_tokens=True):
        return self.size + (len(self.ADDED) if with_added_tokens else 0)

    def ids(self, text):
        return [1] + self.sp.encode(text)

    def handles(self, text):
        """llama.cpp splits special tokens out of the text first; plain sentencepiece does not."""
        return not any(t in text for t in ["<s>", "</s>", "<unk>"] + self.ADDED)

    def save(self, folder: Path):
        shutil.copy(self.model_path, folder / "tokenizer.model")
        decoder = {str(i): dict(content=t, lstrip=False, normalized=False, rstrip=False, single_word=False, special=True)
                   for i, t in [(0, "<unk>"), (1, "<s>"), (2, "</s>")] + [(self.token_to_id(t), t) for t in self.ADDED]}
        (folder / "tokenizer_config.json").write_text(json.dumps(dict(
            add_bos_token=True, add_eos_token=False, added_tokens_decoder=decoder, bos_token="<s>", eos_token="</s>",
            unk_token="<unk>", pad_token="<pad>", legacy=False, clean_up_tokenization_spaces=False,
            tokenizer_class="LlamaTokenizer", chat_template=LLAVA_TEMPLATE), indent=2))


LLAVA_TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'user' %}USER: {{ message['content'] }} "
                  "{% else %}ASSISTANT: {{ message['content'] }}</s>{% endif %}{% endfor %}"
                  "{% if add_generation_prompt %}ASSISTANT:{% endif %}")


def encode(tok, text):
    return tok.ids(text) if isinstance(tok, SentencePieceTokenizer) else tok.encode(text).ids


def write_tokenizer_files(tok, kind, folder: Path, config_ids: dict):
    if isinstance(tok, SentencePieceTokenizer):
        tok.save(folder)
        config_ids.update(bos_token_id=1, eos_token_id=2, pad_token_id=tok.token_to_id("<pad>"))
        return
    spec = TOKENIZERS[kind]
    tok.save(str(folder / "tokenizer.json"))
    decoder = {}
    for token in spec["specials"] + spec["user"]:
        decoder[str(tok.token_to_id(token))] = dict(
            content=token, lstrip=False, normalized=False, rstrip=False, single_word=False,
            special=token in spec["specials"])
    config = {
        "added_tokens_decoder": decoder,
        "bos_token": spec["bos"], "eos_token": spec["eos"], "clean_up_tokenization_spaces": False,
        "model_max_length": 2048, "tokenizer_class": "PreTrainedTokenizerFast",
    }
    if spec["pad"]:
        config["pad_token"] = spec["pad"]
    if kind == "smollm":
        # SmolVLM keeps its template in chat_template.json.
        (folder / "chat_template.json").write_text(json.dumps({"chat_template": spec["chat_template"]}))
    else:
        config["chat_template"] = spec["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    ids = {k: tok.token_to_id(v) for k, v in (("bos_token_id", spec["bos"]), ("eos_token_id", spec["eos"]),
                                               ("pad_token_id", spec["pad"])) if v}
    config_ids.update(ids)


# --------------------------------------------------------------------------- models

def unit_scale(model, seed):
    """Weights that keep activations at unit scale (not the 0.02 init): matrices with standard
    deviation 1/sqrt(fan_in), embeddings 1, norms around 1, biases 0.3."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm = "norm" in name or "layernorm" in name
            if is_norm and name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif is_norm:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            elif "embed_tokens" in name or "embedding" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def text_kwargs(vocab_size, **extra):
    return dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                rms_norm_eps=1e-5, **extra)


def build_model(fx, vocab_size, ids):
    from transformers import (Idefics3Config, Idefics3ForConditionalGeneration, LlamaConfig, LlamaForCausalLM,
                              LlavaConfig, LlavaForConditionalGeneration, Qwen2Config, Qwen2ForCausalLM)
    if fx["arch"] == "LlamaForCausalLM":
        cfg = LlamaConfig(**text_kwargs(vocab_size, tie_word_embeddings=False, **ids), rope_parameters=dict(
            rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
            original_max_position_embeddings=64))
        model = LlamaForCausalLM(cfg)
    elif fx["arch"] == "Qwen2ForCausalLM":
        cfg = Qwen2Config(**text_kwargs(vocab_size, tie_word_embeddings=True, **ids),
                          rope_parameters=dict(rope_type="default", rope_theta=1000000.0))
        model = Qwen2ForCausalLM(cfg)
    elif fx["arch"] == "LlavaForConditionalGeneration":
        ids = dict(ids)
        image_token = ids.pop("image_token_id")
        text = dict(text_kwargs(vocab_size, tie_word_embeddings=False, **ids), model_type="llama",
                    rope_parameters=dict(rope_type="default", rope_theta=10000.0))
        ids["image_token_id"] = image_token
        vision = dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                      num_attention_heads=2, image_size=28, patch_size=7, projection_dim=48, hidden_act="quick_gelu",
                      layer_norm_eps=1e-5)
        cfg = LlavaConfig(text_config=text, vision_config=vision, image_token_index=ids.pop("image_token_id"),
                          vision_feature_layer=-2, vision_feature_select_strategy="default", projector_hidden_act="gelu")
        model = LlavaForConditionalGeneration(cfg)
    else:
        text = dict(text_kwargs(vocab_size, tie_word_embeddings=False, **ids), model_type="llama",
                    architectures=["VLlama3ForCausalLM"], rope_parameters=dict(rope_type="default", rope_theta=100000.0))
        vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      image_size=32, patch_size=8, layer_norm_eps=1e-6)
        cfg = Idefics3Config(text_config=text, vision_config=vision, scale_factor=2,
                             image_token_id=ids["image_token_id"], tie_word_embeddings=False)
        model = Idefics3ForConditionalGeneration(cfg)
    model.config.architectures = [fx["arch"]]
    unit_scale(model, SEED + len(fx["name"]))
    return model.eval()


def save_checkpoint(model, fx, folder: Path):
    dtype = getattr(torch, fx["dtype"])
    model.to(dtype).save_pretrained(str(folder), safe_serialization=True)
    model.to(torch.float32)  # the saved values, rounded, are what the logits use
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if fx.get("legacy_rope_keys"):
        # Real Llama 3.x checkpoints spell the rope settings this way.
        params = cfg.pop("rope_parameters")
        cfg["rope_theta"] = params.pop("rope_theta")
        cfg["rope_scaling"] = params
    cfg_path.write_text(json.dumps(cfg, indent=2))
    (folder / "generation_config.json").unlink(missing_ok=True)


# --------------------------------------------------------------------------- references

def run_llama_cpp(llama_cpp: Path, folder: Path, outfile: Path, outtype: str, pre: str, mmproj: bool):
    sys.path.insert(0, str(llama_cpp / "gguf-py"))
    sys.path.insert(0, str(llama_cpp))
    from conversion import base
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
    argv = [str(llama_cpp / "convert_hf_to_gguf.py"), str(folder), "--outfile", str(outfile), "--outtype", outtype]
    if mmproj:
        argv.append("--mmproj")
    saved = sys.argv
    sys.argv = argv
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    finally:
        sys.argv = saved


def describe_gguf(path: Path):
    import gguf
    reader = gguf.GGUFReader(str(path))
    metadata = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.alignment":
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            etype = field.types[1] if len(field.types) > 1 else None
            if etype == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            metadata[field.name] = dict(type="array", element=etype.name.lower() if etype else None, value=value)
        elif vtype == gguf.GGUFValueType.STRING:
            metadata[field.name] = dict(type="string", value=bytes(field.parts[field.data[0]]).decode("utf-8"))
        else:
            metadata[field.name] = dict(type=vtype.name.lower(), value=field.parts[field.data[0]].tolist()[0])
    tensors = []
    for t in reader.tensors:
        tensors.append(dict(name=t.name, dimensions=[int(d) for d in t.shape], type=t.tensor_type.name,
                            fnv1a64=fnv1a64(bytes(t.data.tobytes()))))
    return dict(metadata=metadata, tensors=tensors)


def image_features(model, fx, out: Path):
    """A seeded tile of normalized pixels (planar, what the projector file's encoder takes) and
    transformers' projected image features for it."""
    size = fx["image_size"]
    gen = torch.Generator().manual_seed(SEED + 99)
    pixels = torch.rand((1, 3, size, size), generator=gen) * 4 - 2
    with torch.no_grad():
        if fx["arch"].startswith("Idefics3"):
            mask = torch.ones((1, 1, size, size), dtype=torch.bool)
            features = model.model.get_image_features(pixel_values=pixels[None], pixel_attention_mask=mask)
        else:
            features = model.get_image_features(pixel_values=pixels)
        if hasattr(features, "pooler_output"):
            features = features.pooler_output
        if isinstance(features, (list, tuple)):
            features = features[0]
        features = features.reshape(-1, features.shape[-1]).float().numpy()
    pixels.numpy().astype("<f4").tofile(out / f"{fx['name']}.pixels.bin")
    features.astype("<f4").tofile(out / f"{fx['name']}.image.bin")
    return dict(pixels=f"{fx['name']}.pixels.bin", features=f"{fx['name']}.image.bin",
                size=size, shape=list(features.shape))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "Tests/InferenceTests/Fixtures/convert")
    args = ap.parse_args()
    torch.manual_seed(SEED)
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / ".gitattributes").write_text("# Checkpoint fixtures are byte-exact inputs.\n*.safetensors binary\n*.bin binary\n")
    corpus = tokfix.make_corpus(random.Random(SEED), n_lines=3000)
    strings = EXTRA_STRINGS + tokfix.random_strings(count=40, seed=SEED + 7)
    references = dict(prompt=PROMPT, logit_tolerance=1e-3, fixtures=[])
    spm_dir = Path(tempfile.mkdtemp())
    for fx in FIXTURES:
        folder = out / fx["name"]
        folder.mkdir()
        if fx["tokenizer"] == "llama-spm":
            tok = SentencePieceTokenizer(corpus, 420, str(spm_dir))
        else:
            tok = train_tokenizer(fx["tokenizer"], corpus, vocab_size=360)
        ids = {}
        write_tokenizer_files(tok, fx["tokenizer"], folder, ids)
        if "image_size" in fx:
            ids["image_token_id"] = tok.token_to_id("<image>")
        vocab_size = tok.get_vocab_size(with_added_tokens=True) + fx["vocab_padding"]
        model = build_model(fx, vocab_size, {k: v for k, v in ids.items()})
        save_checkpoint(model, fx, folder)
        if fx["arch"].startswith("Idefics3"):
            (folder / "preprocessor_config.json").write_text(json.dumps(dict(
                image_processor_type="Idefics3ImageProcessor", do_resize=True, do_image_splitting=True,
                image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], size=dict(longest_edge=64),
                max_image_size=dict(longest_edge=32), resample=1, rescale_factor=1 / 255), indent=2))
        if fx["arch"].startswith("Llava"):
            (folder / "preprocessor_config.json").write_text(json.dumps(dict(
                image_processor_type="CLIPImageProcessor", do_resize=True, do_center_crop=True,
                size=dict(shortest_edge=28), crop_size=dict(height=28, width=28),
                image_mean=CLIP_MEAN, image_std=CLIP_STD, resample=3, rescale_factor=1 / 255), indent=2))
        image = None
        if "image_size" in fx:
            image = image_features(model, fx, out)
        prompt_ids = encode(tok, PROMPT)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt_ids])).logits[0].float().numpy()
        logits.astype("<f4").tofile(out / f"{fx['name']}.logits.bin")
        entry = dict(name=fx["name"], architecture=fx["arch"], pre=fx["tokenizer"], prompt_ids=prompt_ids,
                     n_vocab=vocab_size, logits_shape=list(logits.shape),
                     tokenizer_cases=[dict(text=s, ids=encode(tok, s)) for s in strings
                                      if not isinstance(tok, SentencePieceTokenizer) or tok.handles(s)], outputs={})
        if image:
            entry["image"] = image
        with tempfile.TemporaryDirectory() as tmp:
            for outtype in fx["types"]:
                text_file = Path(tmp) / f"{fx['name']}-{outtype}.gguf"
                run_llama_cpp(args.llama_cpp, folder, text_file, outtype, fx["tokenizer"], mmproj=False)
                result = dict(text=describe_gguf(text_file))
                if "image_size" in fx and fx.get("mmproj_reference", True):
                    proj = Path(tmp) / f"mmproj-{fx['name']}-{outtype}.gguf"
                    run_llama_cpp(args.llama_cpp, folder, proj, outtype, fx["tokenizer"], mmproj=True)
                    result["mmproj"] = describe_gguf(proj)
                entry["outputs"][outtype.upper()] = result
        references["fixtures"].append(entry)
        print(f"{fx['name']}: vocab {vocab_size}, prompt {len(prompt_ids)} tokens", file=sys.stderr)
    (out / "references.json").write_text(json.dumps(references, indent=1, ensure_ascii=False) + "\n")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({total} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
