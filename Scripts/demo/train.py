#!/usr/bin/env python3
"""Train Ponder's demo VLM on synthetic shape scenes (Scripts/demo/scenes.py).

Everything is a pure function of the committed settings below and the seeds: the training data
(scenes seed TRAIN_SEED), the tokenizer (trained on that data's text), the initialisation and
the batch order (torch seed). Held-out evaluation uses scenes seed EVAL_SEED, never trained on.

Usage:
  python3 Scripts/demo/train.py --out DIR                 # the committed settings
  python3 Scripts/demo/train.py --out DIR --steps 5 ...   # a smoke test
Writes DIR/tokenizer.json, DIR/vision.pt and DIR/text.pt (fp16 state dicts: the exported GGUF
values), DIR/eval.json (greedy accuracy on held-out questions, per kind) and the log on stdout.
Export with Scripts/demo/export.py.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dialogues  # noqa: E402
import questions  # noqa: E402
import scenes  # noqa: E402
from model import (CONFIGS, DemoVLM, TextTokenizer, conclusion_of, greedy, normalise, prompt_layout,  # noqa: E402
                   train_vocabulary)

# ------------------------------------------------------------------ committed settings
TRAIN_SEED = 1
EVAL_SEED = 1000
# mix: the shares of conversations (2-3 questions, the last one trained on) and of self-judge
# comparisons among the training records; the rest are single questions. phase2: the fraction of
# the steps after which batches are drawn from all three (before it, single questions only: a
# curriculum). aux_cells: the weight of an auxiliary loss on the image tokens (each token
# classifies its grid cell: empty or not, colour, shape, size) through a linear head used only in
# training, not exported. precision: bf16 autocast (fp32 master weights) or fp32. The mix's third
# and fourth shares (dialogues.record): of the judge comparisons, those whose wrong candidate is a
# lookup slip; of the answers of a kind that can slip (choice, extreme, position, counts), those
# written with a slip and trained from its check on. checks: the answer format (questions.py's
# PONDER_DEMO_CHECKS mode; the environment variable does not choose it here) before the phase-2
# step; late_checks: the format from it on (the same records); verdict_weight: how many times the
# checks' verdicts count in the loss from that step on (--verdict-from moves that step).
SETTINGS = dict(config="medium_e", n_train=100000, steps=8500, batch=16, lr=1e-3, warmup=100, min_lr_ratio=0.05,
                weight_decay=0.01, betas=(0.9, 0.98), grad_clip=1.0, torch_seed=0, n_eval=500,
                mix=(0.3, 0.12, 0.7, 0.5), phase2=0.6, aux_cells=1.0, precision="fp32",
                checks="3", late_checks="6", verdict_weight=30.0)


def decode_jpeg(b: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def save_weights(model, out: Path):
    """The exported values, fp16 (1-D tensors too, stored F32 from these values), to out/vision.pt and out/text.pt."""
    out.mkdir(parents=True, exist_ok=True)
    vis_sd = {k: v.detach().half().cpu() for k, v in model.state_dict().items() if not k.startswith("llm.")}
    txt_sd = {k: v.detach().half().cpu() for k, v in model.llm.state_dict().items()
              if k != "lm_head.weight" or not model.llm.config.tie_word_embeddings}
    torch.save(vis_sd, out / "vision.pt")
    torch.save(txt_sd, out / "text.pt")
    return vis_sd, txt_sd


def build_examples(tok, recs, caption_in_slips=False):
    """(ids, labels) per record: the prompt (a follow-up after the earlier turns, or a judge
    comparison) then the answer + <|im_end|>; loss on the answer only. A slipped answer
    (dialogues.record's `span`) has its loss from its check on, and with caption_in_slips also on
    its summary and caption (right in a slipped answer: the slip is in the reasoning)."""
    end = tok.ids["<|im_end|>"]
    out = []
    for _, r in recs:
        *earlier, (question, answer, _, _) = r["turns"]
        p = prompt_layout(tok, question, [(q, c) for q, _, c, _ in earlier])
        a = tok.encode(answer) + [end]
        labels = a
        if "span" in r:
            s = r["span"][0]
            cut = answer.find("<REASONING>") + len("<REASONING>") if caption_in_slips else 0
            first, skipped = tok.encode(answer[:cut]) if cut > 0 else [], tok.encode(answer[cut:s])
            if 0 < cut <= s and first + skipped + tok.encode(answer[s:]) == a[:-1]:
                labels = first + [-100] * len(skipped) + a[len(first) + len(skipped):]
            elif (head := tok.encode(answer[:s])) + tok.encode(answer[s:]) == a[:-1]:
                labels = [-100] * len(head) + a[len(head):]
            else:
                labels = [-100] * len(a)
        out.append((p + a, [-100] * len(p) + labels))
    return out


def answer_positions(tok, recs, examples, pattern, at):
    """Per example, the trained token positions in its last answer where `at(match)` (a character
    offset) falls for each match of `pattern`."""
    out = []
    for (_, r), (ids, labels) in zip(recs, examples):
        answer = r["turns"][-1][1]
        start = len(ids) - len(tok.encode(answer)) - 1
        pos = [start + len(tok.encode(answer[:at(m)])) for m in re.finditer(pattern, answer)]
        out.append([q for q in pos if labels[q] != -100])
    return out


def verdict_positions(tok, recs, examples):
    """The checks' verdicts ("…: match)") and a position answer after the relation asked
    (PONDER_DEMO_CHECKS=4: "…; asked left of, so the answer is no"), for --verdict-weight."""
    return answer_positions(tok, recs, examples,
                            r" (match|mismatch)\)|asked [a-z ]+, so the answer is( yes| no)|,( yes| no)(?=: (?:match|mismatch)\))",
                            lambda m: m.start() if m.group(1) else m.start(2) if m.group(2) else m.start(3))


def scan_positions(tok, recs, examples):
    """The walks' yes/no ("left: blue circle, yes, 1; top: red square, no;"), for --scan-weight."""
    return answer_positions(tok, recs, examples, r",( yes| no)\b", lambda m: m.start(1))


class CellHead(torch.nn.Module):
    """Training-only linear heads on the image tokens: occupancy (2), colour (6), shape (4), size (2)."""

    def __init__(self, width):
        super().__init__()
        self.heads = torch.nn.ModuleList(torch.nn.Linear(width, n) for n in (2, 6, 4, 2))

    def loss(self, tokens, cells):
        """tokens [B, 9, D], cells [B, 9, 4] long: occupancy on every cell, the rest on occupied ones."""
        present = cells[..., 0] == 1
        total = F.cross_entropy(self.heads[0](tokens).flatten(0, 1), cells[..., 0].flatten())
        if present.any():
            for k in (1, 2, 3):
                total = total + F.cross_entropy(self.heads[k](tokens[present]), cells[..., k][present])
        return total


def batch_of(examples, images, idx, device):
    L = max(len(examples[i][0]) for i in idx)
    ids = torch.zeros((len(idx), L), dtype=torch.long)
    lab = torch.full((len(idx), L), -100, dtype=torch.long)
    for j, i in enumerate(idx):
        e, l = examples[i]
        ids[j, :len(e)] = torch.tensor(e)
        lab[j, :len(l)] = torch.tensor(l)
    im = torch.from_numpy(np.stack([images[i] for i in idx]))
    return ids.to(device), lab.to(device), im.to(device)


def evaluate(model, tok, recs, device, batch=100, max_new=300):
    """Greedy accuracy of the conclusion on scenes.generate records (follow-ups asked after
    their history), overall and per kind."""
    model.eval()
    per = defaultdict(lambda: [0, 0])
    rows = []
    for s in range(0, len(recs), batch):
        chunk = recs[s:s + batch]
        ims = torch.from_numpy(np.stack([decode_jpeg(j) for j, _ in chunk])).to(device)
        prompts = [prompt_layout(tok, r["question"], [(q, c) for q, _, c in r["history"]]) for _, r in chunk]
        gen = greedy(model, tok, prompts, ims, max_new=max_new)
        for (_, r), g in zip(chunk, gen):
            text = tok.decode([t for t in g if t != tok.ids["<|im_end|>"]])
            ok = normalise(conclusion_of(text)) == normalise(r["conclusion"])
            per[r["kind"]][0] += ok
            per[r["kind"]][1] += 1
            rows.append(dict(question=r["question"], expected=r["conclusion"], got=conclusion_of(text), ok=ok,
                             kind=r["kind"], full_match=text == r["answer"]))
    model.train()
    total = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    return dict(accuracy=total[0] / max(1, total[1]), n=total[1],
                per_kind={k: dict(accuracy=v[0] / v[1], n=v[1]) for k, v in sorted(per.items())},
                full_answer_match=sum(r["full_match"] for r in rows) / max(1, len(rows)), rows=rows)


@torch.no_grad()
def evaluate_judge(model, tok, recs, device, batch=50):
    """How often logit('1') vs logit('2') after a comparison prompt picks the right candidate,
    as Ponder's self judge reads it; per stage."""
    model.eval()
    one, two = tok.encode("1")[0], tok.encode("2")[0]
    per = defaultdict(lambda: [0, 0])
    for s in range(0, len(recs), batch):
        chunk = recs[s:s + batch]
        for jpg, r in chunk:
            text, verdict, _, _ = r["turns"][0]
            ids = torch.tensor([prompt_layout(tok, text)], device=device)
            im = torch.from_numpy(decode_jpeg(jpg)[None]).to(device)
            logits = model(ids, im)[0, -1]
            picked = "1" if logits[one] >= logits[two] else "2"
            per[r["stage"]][0] += picked == verdict
            per[r["stage"]][1] += 1
    model.train()
    total = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    return dict(accuracy=total[0] / max(1, total[1]), n=total[1],
                per_stage={k: dict(accuracy=v[0] / v[1], n=v[1]) for k, v in sorted(per.items())})


class GroupedBatches:
    """Batches of one group at a time (single questions, conversations, judge comparisons), so
    that a batch pads to its own length. Each group's records are shuffled, taken 32 batches at a
    time, sorted by length within those and cut into batches (little padding), the batches
    shuffled again; a group is reshuffled when used up. The group of each batch is drawn in
    proportion to its size among the groups allowed at that step."""

    POOL = 32

    def __init__(self, groups: dict[str, list[int]], lengths: list[int], batch: int, generator: torch.Generator):
        self.groups = {k: v for k, v in groups.items() if v}
        self.lengths, self.batch, self.g = lengths, batch, generator
        self.order = {k: self._perm(k) for k in self.groups}
        self.ready = {k: [] for k in self.groups}

    def _perm(self, k):
        return [self.groups[k][i] for i in torch.randperm(len(self.groups[k]), generator=self.g).tolist()]

    def next(self, allowed) -> list[int]:
        names = [k for k in sorted(self.groups) if k in allowed]
        weights = torch.tensor([len(self.groups[k]) for k in names], dtype=torch.float)
        k = names[int(torch.multinomial(weights, 1, generator=self.g))]
        if not self.ready[k]:
            if len(self.order[k]) < self.batch * self.POOL:
                self.order[k] = self._perm(k)
            pool, self.order[k] = self.order[k][:self.batch * self.POOL], self.order[k][self.batch * self.POOL:]
            pool.sort(key=lambda i: self.lengths[i])
            chunks = [pool[i:i + self.batch] for i in range(0, len(pool), self.batch)]
            self.ready[k] = [chunks[i] for i in torch.randperm(len(chunks), generator=self.g).tolist()]
        return self.ready[k].pop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    for k, v in SETTINGS.items():
        if not isinstance(v, tuple):
            ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    ap.add_argument("--mix", default=",".join(map(str, SETTINGS["mix"])),
                    help="shares of conversations and of judge prompts, then of lookup slips among the judge prompts "
                         "and of slipped answers among those that can slip (dialogues.record), e.g. 0.3,0.12,0.7,0.5")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--init", type=Path, help="start from DIR/vision.pt and DIR/text.pt (experiments)")
    ap.add_argument("--verdict-from", type=int, default=-1,
                    help="apply --verdict-weight from this step on (before it the verdicts count once; "
                         "default: the phase-2 step)")
    ap.add_argument("--scan-weight", type=float, default=1.0,
                    help="loss weight of the walks' yes/no tokens, from the first step (experiments)")
    ap.add_argument("--caption-in-slips", action="store_true",
                    help="train a slipped answer's summary and caption too (else only from its check on)")
    ap.add_argument("--late-slips", action="store_true",
                    help="slipped answers (the mix's fourth share) only from the phase-2 step on: the records before "
                         "it are the same ones without slips")
    ap.add_argument("--save-every", type=int, default=0, help="also save the weights to DIR/stepN every N steps (experiments)")
    ap.add_argument("--time-steps", type=int, default=0, help="report CPU seconds per step over the first N steps")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    settings = {k: getattr(a, k) if hasattr(a, k) else v for k, v in SETTINGS.items()}
    settings["mix"] = tuple(float(x) for x in a.mix.split(","))
    print("settings", json.dumps(settings), "device", a.device, "torch", torch.__version__, flush=True)
    t0 = time.time()

    modes = ("", "0", "1", "2", "3", "4", "5", "6")
    if a.checks not in modes or a.late_checks not in modes:
        ap.error(f"--checks and --late-checks take a PONDER_DEMO_CHECKS mode, 0 to 6 (got {a.checks!r}, {a.late_checks!r}).")
    early_mode = a.checks
    early_mix = settings["mix"][:3] if a.late_slips else settings["mix"]   # no slip draw: the same records
    questions.set_check_mode(a.checks)
    recs = dialogues.generate(TRAIN_SEED, a.n_train, early_mix, a.workers)
    two_formats = a.late_checks != a.checks or a.late_slips
    if two_formats:   # the same records in the late format; evaluation is in it too
        questions.set_check_mode(a.late_checks)
        late_recs = dialogues.generate(TRAIN_SEED, a.n_train, settings["mix"], a.workers)
        assert [r["kind"] == "judge" or len(r["turns"]) for _, r in recs] == \
            [r["kind"] == "judge" or len(r["turns"]) for _, r in late_recs]
    eval_recs = scenes.generate(EVAL_SEED, a.n_eval, a.workers)
    followup_recs = scenes.generate(EVAL_SEED, a.n_eval, a.workers, turns=2)
    judge_recs = [r for r in dialogues.generate(EVAL_SEED, a.n_eval, (0.0, 1.0), a.workers)]
    slip_recs = [r for r in dialogues.generate(EVAL_SEED + 1, a.n_eval, (0.0, 1.0, 1.0), a.workers)]
    print(f"data: {len(recs)} train ({sum(r['kind'] == 'judge' for _, r in recs)} judge, "
          f"{sum(len(r['turns']) > 1 for _, r in recs)} conversations), {len(eval_recs)} + {len(followup_recs)} "
          f"+ {len(judge_recs)} eval in {time.time() - t0:.1f}s", flush=True)
    corpus = [t for _, r in recs for turn in r["turns"] for t in turn[:2]] + \
        ["<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n"] * 100
    tok = TextTokenizer.load(a.init / "tokenizer.json") if a.init else TextTokenizer(*train_vocabulary(corpus))
    tok.save(a.out / "tokenizer.json")
    images = [decode_jpeg(j) for j, _ in recs]
    examples = build_examples(tok, recs, a.caption_in_slips)
    verdicts = verdict_positions(tok, recs, examples) if a.verdict_weight != 1.0 else None
    scans = scan_positions(tok, recs, examples) if a.scan_weight != 1.0 else None
    late = None
    if two_formats:
        late_ex = build_examples(tok, late_recs, a.caption_in_slips)
        late = dict(recs=late_recs, examples=late_ex,
                    images=[im if j == j2 else decode_jpeg(j2) for im, (j, _), (j2, _) in zip(images, recs, late_recs)],
                    verdicts=verdict_positions(tok, late_recs, late_ex) if a.verdict_weight != 1.0 else None,
                    scans=scan_positions(tok, late_recs, late_ex) if a.scan_weight != 1.0 else None)
        print(f"format: PONDER_DEMO_CHECKS={early_mode or 'unset'} before step {int(a.phase2 * a.steps)}, "
              f"{a.late_checks or 'unset'} from it{', slipped answers from it' if a.late_slips else ''} ({sum(j != j2 for (j, _), (j2, _) in zip(recs, late_recs))} records with "
              f"another scene; late answer mean {np.mean([sum(x != -100 for x in e[1]) for e in late_ex]):.1f} tokens)",
              flush=True)
    for v in (verdicts, late and late["verdicts"]):
        if v is not None:
            print(f"verdict tokens: {sum(map(len, v))} in {sum(1 for x in v if x)} examples, weight {a.verdict_weight}", flush=True)
    if scans is not None:
        print(f"walk yes/no tokens: {sum(map(len, scans))} in {sum(1 for x in scans if x)} examples, weight {a.scan_weight}", flush=True)
    lens = [len(e[0]) for e in examples]
    n_ans = [sum(x != -100 for x in e[1]) for e in examples]
    too_long = sum(n > CONFIGS[a.config][1]["context"] for n in lens)
    print(f"tokens per example: mean {np.mean(lens):.1f} max {max(lens)} ({too_long} over the context); "
          f"answer mean {np.mean(n_ans):.1f}; prep {time.time() - t0:.1f}s", flush=True)
    groups = defaultdict(list)
    for i, (_, r) in enumerate(recs):
        groups["judge" if r["kind"] == "judge" else "conversation" if len(r["turns"]) > 1 else "single"].append(i)
    phase2_at = int(a.phase2 * a.steps)
    verdict_from = phase2_at if a.verdict_from < 0 else a.verdict_from
    print("groups: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(groups.items())) +
          f"; all groups from step {phase2_at}", flush=True)

    torch.manual_seed(a.torch_seed)
    device = torch.device(a.device)
    model = DemoVLM(*CONFIGS[a.config]).to(device)
    if a.init:  # continue from saved weights (experiments; the committed run starts from scratch)
        model.load_state_dict({**{k: v.float() for k, v in torch.load(a.init / "vision.pt").items()},
                               **{"llm." + k: v.float() for k, v in torch.load(a.init / "text.pt").items()}}, strict=False)
    n_vis = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("llm."))
    n_txt = sum(p.numel() for p in model.llm.parameters())
    print(f"parameters: vision+connector {n_vis:,}  text {n_txt:,}", flush=True)
    cell_head = CellHead(CONFIGS[a.config][1]["hidden"]).to(device) if a.aux_cells > 0 else None
    trained = list(model.named_parameters()) + (list(cell_head.named_parameters()) if cell_head else [])
    decay = [p for n, p in trained if p.ndim >= 2 and "embed_tokens" not in n]
    no_decay = [p for n, p in trained if p.ndim < 2 or "embed_tokens" in n]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=a.weight_decay), dict(params=no_decay, weight_decay=0.0)],
                            lr=a.lr, betas=SETTINGS["betas"])

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))

    batches = GroupedBatches(groups, lens, a.batch, torch.Generator().manual_seed(a.torch_seed))
    model.train()
    t_train = time.time()
    cpu0 = time.process_time()
    ema = None
    for step in range(a.steps):
        idx = batches.next({"single"} if step < phase2_at else set(groups))
        if late is not None and step == phase2_at:
            recs, examples, images, verdicts, scans = (late[k] for k in ("recs", "examples", "images", "verdicts", "scans"))
            print(f"step {step}: answers in PONDER_DEMO_CHECKS={a.late_checks or 'unset'}"
                  f"{' with slips' if a.late_slips else ''} from here on", flush=True)
        ids, lab, im = batch_of(examples, images, idx, device)
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = model(ids, im)
        weigh_verdicts = verdicts is not None and step >= verdict_from
        if not weigh_verdicts and scans is None:
            loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), lab[:, 1:].reshape(-1),
                                   ignore_index=-100)
        else:   # the same mean over answer tokens, with the verdicts (walks' yes/no) counted verdict_weight (scan_weight) times
            each = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), lab[:, 1:].reshape(-1),
                                   ignore_index=-100, reduction="none").view(lab.shape[0], -1)
            w = (lab[:, 1:] != -100).float()
            for j, i in enumerate(idx):
                for q in scans[i] if scans is not None else ():
                    w[j, q - 1] = a.scan_weight
                for q in verdicts[i] if weigh_verdicts else ():
                    w[j, q - 1] = a.verdict_weight
            loss = (each * w).sum() / (lab[:, 1:] != -100).sum()
        if cell_head is not None:
            cells = torch.tensor([recs[i][1]["cells"] for i in idx], device=device)
            loss = loss + a.aux_cells * cell_head.loss(model.last_image_embeddings.float(), cells)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in trained], a.grad_clip)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if a.time_steps and step + 1 == a.time_steps:
            cpu = time.process_time() - cpu0
            wall = time.time() - t_train
            print(f"timing: {a.time_steps} steps, {cpu / a.time_steps:.3f} CPU s/step, {wall / a.time_steps:.3f} wall s/step "
                  f"({torch.get_num_threads()} threads) -> {a.steps} steps ~ {a.steps * wall / a.time_steps / 60:.1f} wall min",
                  flush=True)
        if step % 100 == 0 or step == a.steps - 1:
            print(f"step {step:5d} loss {loss.item():.4f} ema {ema:.4f} lr {lr_at(step):.2e} "
                  f"t {time.time() - t_train:.0f}s", flush=True)
        if a.eval_every and step > 0 and step % a.eval_every == 0:
            r = evaluate(model, tok, eval_recs[:200], device)
            f = evaluate(model, tok, followup_recs[:100], device)
            j = evaluate_judge(model, tok, judge_recs[:200], device)
            js = evaluate_judge(model, tok, slip_recs[:200], device)
            print(f"  eval@{step}: acc {r['accuracy']:.3f} follow-up {f['accuracy']:.3f} judge {j['accuracy']:.3f} "
                  f"slips {js['accuracy']:.3f} (reasoning {js['per_stage'].get('reasoning', {}).get('accuracy', 0):.2f}) "
                  + " ".join(f"{k} {v['accuracy']:.2f}" for k, v in r["per_kind"].items()), flush=True)
        if a.save_every and step > 0 and step % a.save_every == 0:
            save_weights(model, a.out / f"step{step}")
            tok.save(a.out / f"step{step}" / "tokenizer.json")
    print(f"training: {a.steps} steps in {time.time() - t_train:.1f}s wall", flush=True)

    vis_sd, txt_sd = save_weights(model, a.out)
    # evaluate the rounded model, as exported
    model.load_state_dict({**{k: v.float() for k, v in vis_sd.items()},
                           **{"llm." + k: v.float() for k, v in txt_sd.items()}}, strict=False)
    model.llm.tie_weights()
    model.float()
    t1 = time.time()
    r = evaluate(model, tok, eval_recs, device)
    print(f"held-out greedy accuracy (seed {EVAL_SEED}, n={r['n']}, fp16-rounded weights): {r['accuracy']:.4f}; "
          f"full-answer exact match {r['full_answer_match']:.3f}; {time.time() - t1:.1f}s", flush=True)
    for k, v in r["per_kind"].items():
        print(f"  {k:13s} {v['accuracy']:.3f}  (n={v['n']})")
    wrong = [x for x in r["rows"] if not x["ok"]][:15]
    for x in wrong:
        print("  wrong:", x["question"], "| expected", x["expected"], "| got", repr(x["got"]))
    f = evaluate(model, tok, followup_recs, device)
    print(f"held-out follow-up accuracy (second questions, n={f['n']}): {f['accuracy']:.4f}", flush=True)
    j = evaluate_judge(model, tok, judge_recs, device)
    print(f"held-out self-judge pair accuracy (n={j['n']}): {j['accuracy']:.4f} "
          + " ".join(f"{k} {v['accuracy']:.2f}" for k, v in j["per_stage"].items()), flush=True)
    js = evaluate_judge(model, tok, slip_recs, device)
    print(f"held-out self-judge accuracy on lookup slips (n={js['n']}): {js['accuracy']:.4f} "
          + " ".join(f"{k} {v['accuracy']:.2f}" for k, v in js["per_stage"].items()), flush=True)
    (a.out / "eval.json").write_text(json.dumps(dict(settings=settings, eval_seed=EVAL_SEED, **r,
                                                     followup=dict(accuracy=f["accuracy"], n=f["n"]),
                                                     judge=j, judge_slips=js), indent=1))
    print(f"total {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
