#!/usr/bin/env python3
"""Export the demo VLM trained by Scripts/demo/train.py to GGUF.

  Models/demo/ponder-demo.gguf         llama text model, byte-level BPE (pre gpt-2), ChatML template,
                                       ponder.stage_format = true; 2-D tensors F16, norms F32
  Models/demo/ponder-demo-mmproj.gguf  clip / idefics3 projector (SigLIP ViT + pixel shuffle + fc);
                                       2-D and 4-D tensors F16 except the
                                       position embeddings, 1-D tensors F32

The tensor values are exactly the fp16 state dicts train.py saves (1-D tensors widened to f32).
HF Llama rotates (x[i], x[i + d/2]); GGUF `llama` rotates adjacent pairs, so attn_q / attn_k rows
are permuted as llama.cpp's convert_hf_to_gguf.py does.

Usage: python3 Scripts/demo/export.py --weights DIR [--out Models/demo] [--config medium]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import gguf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import CHAT_TEMPLATE, CONFIGS, TextTokenizer  # noqa: E402
from train import SETTINGS  # noqa: E402

TEXT_NAME = "ponder-demo.gguf"
MMPROJ_NAME = "ponder-demo-mmproj.gguf"


def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half rows -> llama.cpp adjacent pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def stored(v: torch.Tensor) -> np.ndarray:
    a = v.numpy()
    return a.astype(np.float16) if a.ndim >= 2 else a.astype(np.float32)


def text_tensors(sd: dict, text: dict) -> dict[str, np.ndarray]:
    out = {"token_embd.weight": stored(sd["model.embed_tokens.weight"])}
    for i in range(text["layers"]):
        h, g = f"model.layers.{i}.", f"blk.{i}."
        out[g + "attn_norm.weight"] = stored(sd[h + "input_layernorm.weight"])
        out[g + "attn_q.weight"] = permute(stored(sd[h + "self_attn.q_proj.weight"]), text["heads"])
        out[g + "attn_k.weight"] = permute(stored(sd[h + "self_attn.k_proj.weight"]), text["kv_heads"])
        out[g + "attn_v.weight"] = stored(sd[h + "self_attn.v_proj.weight"])
        out[g + "attn_output.weight"] = stored(sd[h + "self_attn.o_proj.weight"])
        out[g + "ffn_norm.weight"] = stored(sd[h + "post_attention_layernorm.weight"])
        out[g + "ffn_gate.weight"] = stored(sd[h + "mlp.gate_proj.weight"])
        out[g + "ffn_up.weight"] = stored(sd[h + "mlp.up_proj.weight"])
        out[g + "ffn_down.weight"] = stored(sd[h + "mlp.down_proj.weight"])
    out["output_norm.weight"] = stored(sd["model.norm.weight"])
    if "lm_head.weight" in sd:  # untied output
        out["output.weight"] = stored(sd["lm_head.weight"])
    return out


def vision_tensors(sd: dict, vision: dict) -> dict[str, np.ndarray]:
    out = {
        "v.patch_embd.weight": stored(sd["vision.embeddings.patch_embedding.weight"]),
        "v.patch_embd.bias": stored(sd["vision.embeddings.patch_embedding.bias"]),
        # F32, as llama.cpp's converter writes it: ggml's CPU add has no f32 + f16 case
        "v.position_embd.weight": sd["vision.embeddings.position_embedding.weight"].numpy().astype(np.float32),
    }
    for i in range(vision["layers"]):
        h, g = f"vision.encoder.layers.{i}.", f"v.blk.{i}."
        for a, b in (("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
                     ("attn_out", "self_attn.out_proj"), ("ln1", "layer_norm1"), ("ln2", "layer_norm2"),
                     ("ffn_up", "mlp.fc1"), ("ffn_down", "mlp.fc2")):
            out[g + a + ".weight"] = stored(sd[h + b + ".weight"])
            out[g + a + ".bias"] = stored(sd[h + b + ".bias"])
    out["v.post_ln.weight"] = stored(sd["vision.post_layernorm.weight"])
    out["v.post_ln.bias"] = stored(sd["vision.post_layernorm.bias"])
    out["mm.model.fc.weight"] = stored(sd["connector.modality_projection.proj.weight"])
    return out


def write_text(path: Path, tensors, tok: TextTokenizer, text: dict):
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("ponder-demo")
    w.add_description("Ponder's demo VLM (text model), trained on synthetic shape scenes by Scripts/demo/train.py")
    w.add_file_type(1)
    w.add_context_length(text["context"])
    w.add_embedding_length(text["hidden"])
    w.add_block_count(text["layers"])
    w.add_feed_forward_length(text["ff"])
    w.add_head_count(text["heads"])
    w.add_head_count_kv(text["kv_heads"])
    w.add_layer_norm_rms_eps(text["eps"])
    w.add_rope_dimension_count(text["hidden"] // text["heads"])
    w.add_rope_freq_base(text["rope_base"])
    w.add_vocab_size(len(tok.tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tok.tokens)
    w.add_token_types(tok.types)
    w.add_token_merges(tok.merges)
    w.add_bos_token_id(tok.ids["<|endoftext|>"])
    w.add_eos_token_id(tok.ids["<|im_end|>"])
    w.add_eot_token_id(tok.ids["<|im_end|>"])
    w.add_pad_token_id(tok.ids["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)
    w.add_bool("ponder.stage_format", True)
    for name, data in tensors.items():
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_mmproj(path: Path, tensors, vision: dict, n_embd_text: int):
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_name("ponder-demo-mmproj")
    w.add_description("Ponder's demo VLM (SigLIP ViT + idefics3 projector), trained by Scripts/demo/train.py")
    w.add_file_type(1)
    w.add_string("clip.projector_type", "idefics3")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_text_encoder", False)
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.image_size", vision["image_size"])
    w.add_uint32("clip.vision.patch_size", vision["patch_size"])
    w.add_uint32("clip.vision.embedding_length", vision["hidden"])
    w.add_uint32("clip.vision.feed_forward_length", vision["ff"])
    w.add_uint32("clip.vision.block_count", vision["layers"])
    w.add_uint32("clip.vision.projection_dim", n_embd_text)
    w.add_uint32("clip.vision.attention.head_count", vision["heads"])
    w.add_float32("clip.vision.attention.layer_norm_epsilon", vision["eps"])
    w.add_array("clip.vision.image_mean", [float(x) for x in vision["mean"]])
    w.add_array("clip.vision.image_std", [float(x) for x in vision["std"]])
    w.add_uint32("clip.vision.projector.scale_factor", vision["scale_factor"])
    w.add_uint32("clip.vision.preproc_image_size", vision["preproc_image_size"])
    for name, data in tensors.items():
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True, help="train.py's output folder")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "Models" / "demo")
    ap.add_argument("--config", default=SETTINGS["config"], help="the model size (train.py's SETTINGS by default)")
    a = ap.parse_args()
    vision, text = CONFIGS[a.config]
    tok = TextTokenizer.load(a.weights / "tokenizer.json")
    vsd = torch.load(a.weights / "vision.pt")
    tsd = torch.load(a.weights / "text.pt")
    a.out.mkdir(parents=True, exist_ok=True)
    write_text(a.out / TEXT_NAME, text_tensors(tsd, text), tok, text)
    write_mmproj(a.out / MMPROJ_NAME, vision_tensors(vsd, vision), vision, text["hidden"])
    for n in (TEXT_NAME, MMPROJ_NAME):
        print(f"{a.out / n}: {(a.out / n).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
