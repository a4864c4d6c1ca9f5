#!/usr/bin/env python3
"""Checks of the exported demo model against the PyTorch model it came from.

  text      logits of the text GGUF on a text prompt: PyTorch (the fp16 weights, f32 math) vs
            llama.cpp (llama-cpp-python, f32 KV cache) and vs `ponder logits` (with --ponder)
  image     `ponder embed-image` of Models/demo/sample.jpg vs the PyTorch image embeddings
  samples   writes Models/demo/sample.{jpg,json} (with a follow-up question), the 20-question
            eval-sample and the 10-conversation eval-sample-2turn (+ images)
  expected  `ponder eval` greedy on both samples: the ids it answers right, *.expected.json
  ask       `ponder ask --json` greedy on eval-sample.jsonl (and the sample) vs PyTorch greedy
  llamacpp  greedy answer to the sample through llama.cpp's libmtmd vs PyTorch greedy

Usage: python3 Scripts/demo/verify.py WHAT... --weights DIR [--ponder PATH] [--models Models/demo]
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "Scripts"))
import scenes  # noqa: E402
from train import SETTINGS  # noqa: E402
from model import (CONFIGS, DemoVLM, TextTokenizer, conclusion_of, greedy, normalise,  # noqa: E402
                   prompt_layout)

SAMPLE_SEED = 2024      # the bundled sample and the 20-question CI sample (never trained on)


def load(weights: Path, config: str):
    tok = TextTokenizer.load(weights / "tokenizer.json")
    m = DemoVLM(*CONFIGS[config])
    vs, ts = torch.load(weights / "vision.pt"), torch.load(weights / "text.pt")
    m.load_state_dict({**{k: v.float() for k, v in vs.items()}, **{"llm." + k: v.float() for k, v in ts.items()}},
                      strict=False)
    m.llm.tie_weights()
    return tok, m.eval()


def max_rel(a, ref):
    return float(np.abs(a.astype(np.float64) - ref).max() / np.abs(ref).max())


def image_u8(path: Path) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def torch_answer(tok, m, question: str, img: np.ndarray, history=()) -> str:
    g = greedy(m, tok, [prompt_layout(tok, question, history)], torch.from_numpy(img[None]), max_new=300)[0]
    return tok.decode([t for t in g if t != tok.ids["<|im_end|>"]])


def check_text(a, tok, m):
    r = scenes.example_record(SAMPLE_SEED, 0)[1]
    text = f"<|im_start|>user\n{r['question']}<|im_end|>\n<|im_start|>assistant\n{r['answer']}<|im_end|>"
    ids = tok.encode(text)
    with torch.no_grad():
        ref = m.llm(input_ids=torch.tensor([ids])).logits[0].numpy().astype(np.float64)
    out = dict(n_tokens=len(ids), peak=float(np.abs(ref).max()))
    import make_model_fixtures as mmf
    run = mmf.LlamaRun(a.models / "ponder-demo.gguf", n_ctx=512)
    lc = run.decode(ids)
    run.close()
    out["llama_cpp_vs_torch"] = max_rel(lc, ref)
    out["llama_cpp_argmax_agree"] = float((lc.argmax(-1) == ref.argmax(-1)).mean())
    if a.ponder:
        tk = subprocess.run([a.ponder, "tokenize", "--model", str(a.models / "ponder-demo.gguf"), "--special", text],
                            capture_output=True, text=True, check=True).stdout.split()
        out["ponder_tokenize_matches"] = [int(x) for x in tk] == ids
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "l.f32"
            subprocess.run([a.ponder, "logits", "--model", str(a.models / "ponder-demo.gguf"),
                            "--tokens", " ".join(map(str, ids)), "--out", str(f)], check=True)
            pl = np.fromfile(f, dtype=np.float32).reshape(len(ids), -1)
        out["ponder_vs_torch"] = max_rel(pl, ref)
        out["ponder_vs_llama_cpp"] = max_rel(pl, lc.astype(np.float64))
        out["ponder_argmax_agree"] = float((pl.argmax(-1) == ref.argmax(-1)).mean())
    # llama.cpp's own tokenizer on the same text
    print("text:", json.dumps(out))
    return out


def check_image(a, tok, m):
    img = image_u8(a.models / "sample.jpg")
    with torch.no_grad():
        ref = m.image_embeddings(torch.from_numpy(img[None]))[0].numpy().astype(np.float64)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "e.f32"
        subprocess.run([a.ponder, "embed-image", "--mmproj", str(a.models / "ponder-demo-mmproj.gguf"),
                        "--image", str(a.models / "sample.jpg"), "--out", str(f),
                        "--model", str(a.models / "ponder-demo.gguf")], check=True)
        pe = np.fromfile(f, dtype=np.float32).reshape(-1, ref.shape[1])
    out = dict(rows=int(pe.shape[0]), tile_vs_torch=max_rel(pe[:ref.shape[0]], ref),
               overview_vs_torch=max_rel(pe[ref.shape[0]:], ref))
    print("image:", json.dumps(out))
    return out


def write_eval_sample(out: Path, name: str, first: int, n: int, turns: int):
    """`n` records of SAMPLE_SEED from index `first` as out/NAME.jsonl, images in out/NAME/."""
    (out / name).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        jpg, r = scenes.example_record(SAMPLE_SEED, first + i, turns)
        image = f"q{i:02d}.jpg"
        (out / name / image).write_bytes(jpg)
        lines.append(json.dumps({
            "id": f"eval-{SAMPLE_SEED}-{first + i}" + (f"-t{turns}" if turns > 1 else ""), "image": f"{name}/{image}",
            "conversations": scenes.conversation_json(r),
            "question": r["question"], "conclusion": r["conclusion"], "kind": r["kind"]}))
    (out / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


def write_samples(a, tok, m):
    """The 20-question and the 10-conversation (two questions each) CI samples, and the bundled
    sample: the first two-question scene of SAMPLE_SEED with >= 4 shapes whose both whole
    four-stage answers the model reproduces exactly (so the captions and reasonings are right
    too); its second question is the follow-up that the tmux test asks."""
    from PIL import Image
    out = a.models
    write_eval_sample(out, "eval-sample", 1000, 20, 1)
    write_eval_sample(out, "eval-sample-2turn", 3000, 10, 2)
    for i in range(300):
        jpg, r = scenes.example_record(SAMPLE_SEED, i, 2)
        (q1, a1, c1), = r["history"]
        if a1.count(";") < 3 or not any(k in a1 for k in ("count is", "In total", "difference", "So it is")):
            continue
        img = np.asarray(Image.open(io.BytesIO(jpg)).convert("RGB"))
        if torch_answer(tok, m, q1, img).strip() != a1.strip():
            continue
        if torch_answer(tok, m, r["question"], img, [(q1, c1)]).strip() != r["answer"].strip():
            continue
        (out / "sample.jpg").write_bytes(jpg)
        (out / "sample.json").write_text(json.dumps({
            "image": "sample.jpg", "question": q1, "answer": c1,
            "followup": {"question": r["question"], "answer": r["conclusion"]}}, indent=1) + "\n")
        print("sample:", i, q1, "->", c1, "|", r["question"], "->", r["conclusion"])
        return
    raise SystemExit("no sample found")


def write_expected(a, tok, m):
    """NAME.expected.json: the ids of the CI samples that `ponder eval` (greedy) answers right,
    which the Swift tests hold the bundled model to."""
    for name in ("eval-sample", "eval-sample-2turn"):
        p = subprocess.run([a.ponder, "eval", "--model", str(a.models / "ponder-demo.gguf"),
                            "--mmproj", str(a.models / "ponder-demo-mmproj.gguf"),
                            "--data", str(a.models / f"{name}.jsonl"), "--threads", "2", "--json"],
                           capture_output=True, text=True, check=True)
        rows = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        ids = [r["id"] for r in rows if "id" in r and r.get("correct") is True]
        (a.models / f"{name}.expected.json").write_text(json.dumps(ids, indent=1) + "\n")
        print(f"{name}: {len(ids)}/{len(rows) - 1} right")


def ponder_ask(a, image: Path, question: str) -> dict:
    p = subprocess.run([a.ponder, "ask", "--model", str(a.models / "ponder-demo.gguf"),
                        "--mmproj", str(a.models / "ponder-demo-mmproj.gguf"), "--image", str(image),
                        "--no-stage-instruction", "--json", "--max-tokens", "300", question],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return dict(error=p.stderr.strip())
    last = [json.loads(x) for x in p.stdout.splitlines() if x.strip().startswith("{")][-1]
    return last


def check_ask(a, tok, m):
    rows = [json.loads(x) for x in (a.models / "eval-sample.jsonl").read_text().splitlines()]
    sample = json.loads((a.models / "sample.json").read_text())
    cases = [dict(image=a.models / sample["image"], question=sample["question"], conclusion=sample["answer"])]
    cases += [dict(image=a.models / r["image"], question=r["question"], conclusion=r["conclusion"]) for r in rows]
    n_ok_ponder = n_ok_torch = n_same = 0
    for i, c in enumerate(cases):
        pt = torch_answer(tok, m, c["question"], image_u8(c["image"]))
        po = ponder_ask(a, c["image"], c["question"])
        stages = po.get("stages") or {}
        pc = stages.get("conclusion")
        ans = po.get("answer")
        same = ans is not None and (ans.strip() == pt.strip() or
                                    all(stages.get(s, "").strip() in pt for s in ("summary", "caption", "reasoning", "conclusion")))
        ok_p = normalise(pc) == normalise(c["conclusion"])
        ok_t = normalise(conclusion_of(pt)) == normalise(c["conclusion"])
        if i > 0:
            n_ok_ponder += ok_p
            n_ok_torch += ok_t
            n_same += same
        print(f"{'sample' if i == 0 else i:>6}: {c['question']!r} expected {c['conclusion']!r} ponder {pc!r} "
              f"torch {conclusion_of(pt)!r} same-answer {same}" + (f" ERROR {po['error']}" if "error" in po else ""))
        if i == 0:
            print("  torch:", pt.replace("\n", "\\n"))
            print("  ponder:", (ans or "").replace("\n", "\\n"))
    n = len(cases) - 1
    print(f"eval-sample: ponder greedy accuracy {n_ok_ponder}/{n}, torch greedy {n_ok_torch}/{n}, "
          f"identical answers {n_same}/{n}")


def check_llama_cpp(a, tok, m):
    """Greedy decoding of the sample through llama.cpp's libmtmd (llama-cpp-python), fed the same
    RGB pixels, vs PyTorch greedy."""
    import make_model_fixtures as mmf
    import make_vision_fixtures as mvf
    sample = json.loads((a.models / "sample.json").read_text())
    img = image_u8(a.models / sample["image"])
    pt = torch_answer(tok, m, sample["question"], img)
    run = mmf.LlamaRun(a.models / "ponder-demo.gguf", n_ctx=512)
    mt = mvf.Mtmd(a.models / "ponder-demo-mmproj.gguf", run)
    text = f"<|im_start|>user\n{mvf.MEDIA_MARKER}{sample['question']}<|im_end|>\n<|im_start|>assistant\n"
    chunks = mt.tokenize(dict(text=text, add_special=True, parse_special=True), np.ascontiguousarray(img))
    logits, layout = mvf.eval_all_logits(run, mt, chunks)
    mt.free_chunks(chunks)
    out, last = [], logits[-1]
    for _ in range(300):
        t = int(np.argmax(last))
        if t == tok.ids["<|im_end|>"]:
            break
        out.append(t)
        last = run.decode([t])[0]
    mt.close()
    run.close()
    lc = tok.decode(out)
    print(f"llama.cpp (mtmd) prompt positions {logits.shape[0]}, answer identical to PyTorch greedy: {lc == pt}")
    print("  llama.cpp:", lc.replace("\n", "\\n"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="+", choices=["text", "image", "samples", "expected", "ask", "llamacpp"])
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--config", default=SETTINGS["config"], help="the model size (train.py's SETTINGS by default)")
    ap.add_argument("--ponder", default=None)
    ap.add_argument("--models", type=Path, default=ROOT / "Models" / "demo")
    a = ap.parse_args()
    torch.set_num_threads(2)
    tok, m = load(a.weights, a.config)
    for w in a.what:
        dict(text=check_text, image=check_image, samples=write_samples, expected=write_expected, ask=check_ask,
             llamacpp=check_llama_cpp)[w](a, tok, m)


if __name__ == "__main__":
    main()
