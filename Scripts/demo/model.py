"""The demo VLM as trained: HF transformers' Idefics3VisionTransformer + Idefics3Connector (SigLIP
ViT, pixel shuffle, one linear layer) feeding a LlamaForCausalLM through inputs_embeds, with the
prompt built exactly as Ponder (and llama.cpp's mtmd) builds it for idefics3, and a byte-level
BPE tokenizer (HF `tokenizers`) that tokenizes as llama.cpp does with tokenizer.ggml.pre = gpt-2.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

# transformers imports torchvision when it is installed, and a torchvision built for another
# torch fails to import ("operator torchvision::nms does not exist"); the demo never needs it.
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a, **k: (
    None if name == "torchvision" or name.startswith("torchvision.") else _find_spec(name, *a, **k))

# ------------------------------------------------------------------ settings (committed)

VISION = dict(image_size=96, patch_size=16, hidden=192, layers=4, heads=3, ff=768, eps=1e-6,
              scale_factor=2, preproc_image_size=96, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
TEXT = dict(hidden=256, layers=6, heads=4, kv_heads=4, ff=768, eps=1e-5, rope_base=10000.0,
            context=1024, vocab=1024, tied=True, embed_std=None)
# Named size variants (the committed one is train.py's SETTINGS["config"]).
CONFIGS = {
    "large": (VISION, TEXT),
    "medium": (dict(VISION, hidden=192, layers=4, heads=3, ff=576), dict(TEXT, hidden=256, layers=4, heads=4, kv_heads=4, ff=640)),
    "deep": (dict(VISION, hidden=192, layers=4, heads=3, ff=576), dict(TEXT, hidden=192, layers=6, heads=3, kv_heads=3, ff=512)),
    "medium_e": (dict(VISION, hidden=192, layers=4, heads=3, ff=576), dict(TEXT, hidden=256, layers=4, heads=4, kv_heads=4, ff=640, tied=False, embed_std=1.0)),
    "small": (dict(VISION, hidden=128, layers=4, heads=2, ff=512), dict(TEXT, hidden=192, layers=4, heads=3, kv_heads=3, ff=512)),
}

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SPECIALS = (["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<fake_token_around_image>", "<global-img>",
             "<image>"] + [f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)])
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
MEDIA = "<__media__>"
TOKENS_PER_TILE = (VISION["image_size"] // VISION["patch_size"] // VISION["scale_factor"]) ** 2


# ------------------------------------------------------------------ tokenizer

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


def train_vocabulary(corpus: list[str], total: int = TEXT["vocab"]):
    """(tokens, types, merges): BPE tokens, then the merge "Ċ Ċ" (the "\\n\\n" token idefics3
    prompts need), then the special tokens (type 3), `total` tokens in all."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    n_bpe = total - len(SPECIALS) - 1
    trainer = trainers.BpeTrainer(vocab_size=n_bpe, min_frequency=2, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    model = json.loads(tok.to_str())["model"]
    tokens = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    nl2 = "\u010a\u010a"
    if nl2 not in tokens:
        tokens.append(nl2)
        merges.append("\u010a \u010a")
    while len(tokens) < total - len(SPECIALS):  # the trainer may stop short of n_bpe
        tokens.append(f"<unused_{len(tokens)}>")
    types = [1] * len(tokens) + [3] * len(SPECIALS)
    tokens = tokens + SPECIALS
    assert len(tokens) == total == len(set(tokens)), (len(tokens), total)
    return tokens, types, merges


class TextTokenizer:
    """llama_tokenize(add_special=False, parse_special=True): split on the special tokens,
    byte-level BPE on the pieces between them."""

    def __init__(self, tokens, types, merges):
        from tokenizers import Regex, Tokenizer, models, pre_tokenizers, decoders

        self.tokens, self.types, self.merges = tokens, types, merges
        self.ids = {t: i for i, t in enumerate(tokens)}
        vocab = {t: i for i, t in enumerate(tokens) if types[i] == 1}
        bpe = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges]))
        bpe.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        bpe.decoder = decoders.ByteLevel()
        self.bpe = bpe
        specials = [t for t, ty in zip(tokens, types) if ty == 3]
        self.split_re = re.compile("(" + "|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True)) + ")")
        b2u = bytes_to_unicode()
        self.u2b = {v: k for k, v in b2u.items()}

    def encode(self, text: str) -> list[int]:
        out = []
        for piece in self.split_re.split(text):
            if not piece:
                continue
            if piece in self.ids and self.types[self.ids[piece]] == 3:
                out.append(self.ids[piece])
            else:
                out += self.bpe.encode(piece, add_special_tokens=False).ids
        return out

    def decode(self, ids) -> str:
        parts = []
        for i in ids:
            t = self.tokens[i]
            if self.types[i] == 3:
                parts.append(t.encode())
            else:
                parts.append(bytes(self.u2b[ch] for ch in t))
        return b"".join(parts).decode("utf-8", "replace")

    def save(self, path: Path):
        path.write_text(json.dumps(dict(tokens=self.tokens, types=self.types, merges=self.merges)))

    @classmethod
    def load(cls, path: Path):
        d = json.loads(Path(path).read_text())
        return cls(d["tokens"], d["types"], d["merges"])


# ------------------------------------------------------------------ prompt layout

def prompt_layout(tok: TextTokenizer, question: str, history=()):
    """Token ids of the prompt Ponder builds for `ask --no-stage-instruction` (or with the GGUF's
    ponder.stage_format), with -1 at the tile's image rows and -2 at the overview's. `history`:
    the earlier (question, answer) turns of the conversation, as the chat sends a follow-up (the
    image in front of the first question, each answer as the assistant turn)."""
    turns = list(history) + [(question, None)]
    text = ""
    for i, (q, a) in enumerate(turns):
        text += f"<|im_start|>user\n{MEDIA if i == 0 else ''}{q}<|im_end|>\n<|im_start|>assistant\n"
        if a is not None:
            text += f"{a}<|im_end|>\n"
    before, after = text.split(MEDIA)
    ids = tok.encode(before)
    ids += tok.encode("<fake_token_around_image><row_1_col_1>") + [-1] * TOKENS_PER_TILE
    ids += [tok.ids["\u010a\u010a"], tok.ids["<fake_token_around_image>"], tok.ids["<global-img>"]]
    ids += [-2] * TOKENS_PER_TILE + [tok.ids["<fake_token_around_image>"]]
    ids += tok.encode(after)
    return ids


# ------------------------------------------------------------------ model

class DemoVLM(nn.Module):
    def __init__(self, vision=VISION, text=TEXT):
        super().__init__()
        from transformers import Idefics3Config, LlamaConfig, LlamaForCausalLM
        from transformers.models.idefics3.modeling_idefics3 import Idefics3Connector, Idefics3VisionTransformer

        cfg = Idefics3Config(
            vision_config=dict(hidden_size=vision["hidden"], intermediate_size=vision["ff"],
                               num_hidden_layers=vision["layers"], num_attention_heads=vision["heads"],
                               num_channels=3, image_size=vision["image_size"], patch_size=vision["patch_size"],
                               hidden_act="gelu_pytorch_tanh", layer_norm_eps=vision["eps"], attention_dropout=0.0),
            text_config=dict(model_type="llama", hidden_size=text["hidden"], intermediate_size=text["ff"],
                             num_hidden_layers=1, num_attention_heads=text["heads"]),
            scale_factor=vision["scale_factor"])
        cfg.vision_config._attn_implementation = "sdpa"
        self.vision = Idefics3VisionTransformer(cfg.vision_config)
        self.connector = Idefics3Connector(cfg)
        lcfg = LlamaConfig(vocab_size=text["vocab"], hidden_size=text["hidden"], intermediate_size=text["ff"],
                           num_hidden_layers=text["layers"], num_attention_heads=text["heads"],
                           num_key_value_heads=text["kv_heads"], max_position_embeddings=text["context"],
                           rms_norm_eps=text["eps"], rope_theta=text["rope_base"], tie_word_embeddings=text.get("tied", True),
                           attention_bias=False, mlp_bias=False, hidden_act="silu")
        lcfg._attn_implementation = "sdpa"
        self.llm = LlamaForCausalLM(lcfg)
        self.llm.tie_weights()
        if text.get("embed_std"):
            # token embeddings at the scale of the image rows and of the layers' outputs, so that
            # a text position still carries its token after the first layer (with 0.02 the
            # first layer's output buries it, and the question can no longer be read)
            nn.init.normal_(self.llm.get_input_embeddings().weight, std=text["embed_std"])
        self.mean = torch.tensor(vision["mean"]).view(1, 3, 1, 1)
        self.std = torch.tensor(vision["std"]).view(1, 3, 1, 1)

    def image_embeddings(self, images_u8: torch.Tensor) -> torch.Tensor:
        """[B, H, W, 3] uint8 -> [B, TOKENS_PER_TILE, n_embd]."""
        x = images_u8.permute(0, 3, 1, 2).float() / 255.0
        x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        h = self.vision(pixel_values=x).last_hidden_state
        return self.connector(h)

    def embed(self, ids: torch.Tensor, images_u8: torch.Tensor) -> torch.Tensor:
        """ids [B, L] with -1/-2 at image rows (tile / overview: the same pixels for these
        scenes, since the image is one tile already) -> inputs_embeds [B, L, n_embd]."""
        emb_img = self.image_embeddings(images_u8)                   # [B, T, D]
        self.last_image_embeddings = emb_img                         # read by train.py's cell loss
        tok = self.llm.get_input_embeddings()(ids.clamp(min=0))      # [B, L, D]
        mask = ids < 0
        if mask.any():
            img_rows = emb_img.reshape(-1, emb_img.shape[-1])        # [B*T, D]
            # every example has exactly 2*T image rows: tile then overview
            idx = torch.arange(ids.shape[0], device=ids.device)[:, None] * emb_img.shape[1] + \
                torch.arange(emb_img.shape[1], device=ids.device)[None, :]
            rows = torch.cat([img_rows[idx], img_rows[idx]], dim=1).reshape(-1, emb_img.shape[-1])
            tok = tok.masked_scatter(mask[..., None], rows.to(tok.dtype))
        return tok

    def forward(self, ids, images_u8):
        return self.llm(inputs_embeds=self.embed(ids, images_u8)).logits


@torch.no_grad()
def greedy(model: DemoVLM, tok: TextTokenizer, prompts: list[list[int]], images_u8: torch.Tensor,
           max_new: int = 200) -> list[list[int]]:
    """Batched greedy decoding (left padding, explicit positions from 0 for each prompt);
    stops each sequence at <|im_end|>."""
    from transformers import DynamicCache

    dev = images_u8.device
    B = len(prompts)
    L = max(len(p) for p in prompts)
    pad = tok.ids["<|endoftext|>"]
    ids = torch.full((B, L), pad, dtype=torch.long, device=dev)
    att = torch.zeros((B, L), dtype=torch.long, device=dev)
    for i, p in enumerate(prompts):
        ids[i, L - len(p):] = torch.tensor(p, device=dev)
        att[i, L - len(p):] = 1
    emb = model.embed(ids, images_u8)
    pos = (att.cumsum(1) - 1).clamp(min=0)
    cache = DynamicCache()
    out = model.llm(inputs_embeds=emb, attention_mask=att, position_ids=pos, past_key_values=cache, use_cache=True)
    end = tok.ids["<|im_end|>"]
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    gen = [[] for _ in range(B)]
    last_pos = pos[:, -1]
    for _ in range(max_new):
        nxt = out.logits[:, -1].float().argmax(-1)
        for i in range(B):
            if not done[i]:
                gen[i].append(int(nxt[i]))
        done |= nxt == end
        if bool(done.all()):
            break
        att = torch.cat([att, torch.ones((B, 1), dtype=att.dtype, device=dev)], 1)
        last_pos = last_pos + 1
        out = model.llm(input_ids=nxt[:, None], attention_mask=att, position_ids=last_pos[:, None],
                        past_key_values=out.past_key_values, use_cache=True)
    return gen


def conclusion_of(text: str) -> str | None:
    m = re.search(r"<CONCLUSION>(.*?)(</CONCLUSION>|$)", text, re.S)
    return m.group(1) if m else None


def normalise(s: str | None) -> str:
    if s is None:
        return ""
    s = s.strip().lower().rstrip(".").strip()
    return re.sub(r"\s+", " ", s)
