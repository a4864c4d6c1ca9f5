#!/usr/bin/env python3
"""How much room search has on the demo model: per question kind, greedy accuracy, and over K
whole answers sampled at a temperature (PyTorch, the exported fp16 weights), the mean accuracy
of one sample (pass@1), whether any of the first k is right (pass@k: what a perfect judge
could reach with best-of-k) and the majority answer's accuracy (maj@K).

Usage: python3 Scripts/demo/passk.py --weights DIR [--n 200] [--k 8] [--temp 0.6] [--out rows.json]
(DIR: train.py's output, or Scripts/demo/import_gguf.py's from the bundled model.)
"""
import sys, io, json, argparse
from pathlib import Path
from collections import Counter, defaultdict
import numpy as np, torch
from PIL import Image
sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenes
from verify import load
from model import prompt_layout, conclusion_of, normalise
from transformers import DynamicCache

@torch.no_grad()
def sample(model, tok, prompts, images_u8, temperature, max_new=300, gen=None):
    dev = images_u8.device; B = len(prompts); L = max(len(p) for p in prompts)
    pad = tok.ids["<|endoftext|>"]
    ids = torch.full((B, L), pad, dtype=torch.long); att = torch.zeros((B, L), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, L - len(p):] = torch.tensor(p); att[i, L - len(p):] = 1
    emb = model.embed(ids, images_u8)
    pos = (att.cumsum(1) - 1).clamp(min=0)
    out = model.llm(inputs_embeds=emb, attention_mask=att, position_ids=pos, past_key_values=DynamicCache(), use_cache=True)
    end = tok.ids["<|im_end|>"]; done = torch.zeros(B, dtype=torch.bool); res = [[] for _ in range(B)]
    last = pos[:, -1]
    for _ in range(max_new):
        lg = out.logits[:, -1].float()
        nxt = lg.argmax(-1) if temperature == 0 else torch.multinomial(torch.softmax(lg / temperature, -1), 1, generator=gen)[:, 0]
        for i in range(B):
            if not done[i]: res[i].append(int(nxt[i]))
        done |= nxt == end
        if bool(done.all()): break
        att = torch.cat([att, torch.ones((B, 1), dtype=att.dtype)], 1); last = last + 1
        out = model.llm(input_ids=nxt[:, None], attention_mask=att, position_ids=last[:, None], past_key_values=out.past_key_values, use_cache=True)
    return [tok.decode([t for t in r if t != end]) for r in res]

ap = argparse.ArgumentParser()
ap.add_argument('--weights', required=True); ap.add_argument('--n', type=int, default=200)
ap.add_argument('--k', type=int, default=8); ap.add_argument('--temp', type=float, default=0.6)
ap.add_argument('--out', help='write every row (samples included) as JSON')
a = ap.parse_args()
torch.set_num_threads(2)
tok, m = load(Path(a.weights), 'medium_e')
recs = scenes.generate(1000, a.n, 1)   # train.py's EVAL_SEED: never trained on
gen = torch.Generator().manual_seed(1)
rows = []
for s in range(0, len(recs), 50):
    chunk = recs[s:s + 50]
    ims = torch.from_numpy(np.stack([np.asarray(Image.open(io.BytesIO(j)).convert("RGB")) for j, _ in chunk]))
    prompts = [prompt_layout(tok, r["question"]) for _, r in chunk]
    g = sample(m, tok, prompts, ims, 0)
    samples = [sample(m, tok, prompts, ims, a.temp, gen=gen) for _ in range(a.k)]
    for i, (_, r) in enumerate(chunk):
        ref = normalise(r["conclusion"])
        got = [normalise(conclusion_of(x[i])) for x in samples]
        rows.append(dict(kind=r["kind"], greedy=normalise(conclusion_of(g[i])) == ref, ok=[x == ref for x in got], got=got, ref=ref,
                         greedy_text=g[i], samples=[x[i] for x in samples]))
    print(s, flush=True)
per = defaultdict(lambda: defaultdict(float))
for r in rows:
    for key in (r['kind'], 'all'):
        d = per[key]; d['n'] += 1; d['greedy'] += r['greedy']; d['pass1'] += np.mean(r['ok'])
        for k in (2, 4, 8):
            d[f'pass{k}'] += any(r['ok'][:k])
        maj = Counter(r['got']).most_common(1)[0][0]; d['maj8'] += maj == r['ref']
print(f"{'kind':14s} n greedy pass1 pass2 pass4 pass8 maj8")
for k, d in sorted(per.items()):
    n = d['n']; print(f"{k:14s} {int(n):3d} " + " ".join(f"{100*d[c]/n:5.1f}" for c in ('greedy','pass1','pass2','pass4','pass8','maj8')))
if a.out:
    json.dump(rows, open(a.out, 'w'))
