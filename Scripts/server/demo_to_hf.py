#!/usr/bin/env python3
"""Writes the demo model's text half (Models/demo/ponder-demo.gguf) as a Hugging Face Llama
checkpoint that vLLM and SGLang serve: config.json, model.safetensors (F32), tokenizer.json,
tokenizer_config.json (ChatML template, the demo's). The server tests use it: a small model
that answers in the four stages, so stage-beam over a server has real stages to search.

Usage: python3 Scripts/server/demo_to_hf.py --out DIR [--gguf Models/demo/ponder-demo.gguf]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def field(reader, key):
    f = reader.fields[key]
    part = f.parts[f.data[0]]
    if f.types and f.types[0].name == "STRING":
        return bytes(part).decode()
    return part.tolist()[0]


def strings(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode() for i in f.data]


def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary row order back to Hugging Face's (the converter's permute, inverted)."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gguf", type=Path, default=ROOT / "Models" / "demo" / "ponder-demo.gguf")
    a = ap.parse_args()
    from gguf import GGUFReader
    from safetensors.numpy import save_file
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    r = GGUFReader(str(a.gguf))
    width = field(r, "llama.embedding_length")
    layers = field(r, "llama.block_count")
    heads = field(r, "llama.attention.head_count")
    kv_heads = field(r, "llama.attention.head_count_kv")
    tensors = {t.name: np.array(t.data, dtype=np.float32) for t in r.tensors}
    out = {"model.embed_tokens.weight": tensors["token_embd.weight"], "model.norm.weight": tensors["output_norm.weight"]}
    for i in range(layers):
        g, h = f"blk.{i}.", f"model.layers.{i}."
        out[h + "input_layernorm.weight"] = tensors[g + "attn_norm.weight"]
        out[h + "self_attn.q_proj.weight"] = unpermute(tensors[g + "attn_q.weight"], heads)
        out[h + "self_attn.k_proj.weight"] = unpermute(tensors[g + "attn_k.weight"], kv_heads)
        out[h + "self_attn.v_proj.weight"] = tensors[g + "attn_v.weight"]
        out[h + "self_attn.o_proj.weight"] = tensors[g + "attn_output.weight"]
        out[h + "post_attention_layernorm.weight"] = tensors[g + "ffn_norm.weight"]
        out[h + "mlp.gate_proj.weight"] = tensors[g + "ffn_gate.weight"]
        out[h + "mlp.up_proj.weight"] = tensors[g + "ffn_up.weight"]
        out[h + "mlp.down_proj.weight"] = tensors[g + "ffn_down.weight"]
    tied = "output.weight" not in tensors
    out["lm_head.weight"] = tensors["token_embd.weight" if tied else "output.weight"]
    a.out.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, str(a.out / "model.safetensors"),
              metadata={"format": "pt"})

    tokens = strings(r, "tokenizer.ggml.tokens")
    types = r.fields["tokenizer.ggml.token_type"]
    types = [int(types.parts[i][0]) for i in types.data]
    merges = strings(r, "tokenizer.ggml.merges")
    vocab = {t: i for i, (t, ty) in enumerate(zip(tokens, types)) if ty != 3}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = [dict(id=i, content=t, single_word=False, lstrip=False, rstrip=False, normalized=False,
                                 special=True) for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3]
    (a.out / "tokenizer.json").write_text(json.dumps(spec))
    eos = tokens[field(r, "tokenizer.ggml.eos_token_id")]
    template = field(r, "tokenizer.chat_template")
    (a.out / "tokenizer_config.json").write_text(json.dumps(dict(
        tokenizer_class="PreTrainedTokenizerFast", chat_template=template, eos_token=eos, pad_token="<|endoftext|>",
        bos_token=None, add_bos_token=False, model_max_length=field(r, "llama.context_length"))))
    (a.out / "config.json").write_text(json.dumps(dict(
        architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=width, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, intermediate_size=field(r, "llama.feed_forward_length"),
        vocab_size=len(tokens), max_position_embeddings=field(r, "llama.context_length"),
        rms_norm_eps=field(r, "llama.attention.layer_norm_rms_epsilon"), rope_theta=field(r, "llama.rope.freq_base"),
        tie_word_embeddings=False, hidden_act="silu", torch_dtype="float32", eos_token_id=tokens.index(eos),
        bos_token_id=None, pad_token_id=tokens.index("<|endoftext|>"))))
    print(f"wrote {a.out}: {layers} layers, width {width}, {len(tokens)} tokens")


if __name__ == "__main__":
    main()
