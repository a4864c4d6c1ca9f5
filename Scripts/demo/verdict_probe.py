#!/usr/bin/env python3
"""Do the candidates' check verdicts follow their checks? (PONDER_DEMO_CHECKS experiments.)

Teacher-forces answers with checks (`questions.py`, right and slipped, from scenes seed SEED,
not the training seed) through the weights in DIR, and reads the model's probability of
" match" against " mismatch" at every verdict. A verdict that is learnt gives "match" a high
probability where the check holds and a low one where it does not; one that is not learnt
gives the same probability to both. With PONDER_DEMO_CHECKS=4 it also reads P(" yes") against
P(" no") at a position answer that follows the relation asked ("Row 3 is below row 2; asked
above, so the answer is no"), as the row "relation". With PONDER_DEMO_CHECKS=6 it also reads
P(" yes") against P(" no") at the last option that a choice check walks (the comparison that its
verdict repeats), as the row "choice-item".

Usage: PONDER_DEMO_CHECKS=3 python3 Scripts/demo/verdict_probe.py --weights DIR [--seed 4242] [--n 1500]
(run it with the PONDER_DEMO_CHECKS value the weights were trained with)
"""
import argparse, io, re, sys
from collections import defaultdict
from pathlib import Path
import numpy as np, torch
from PIL import Image
sys.path.insert(0, str(Path(__file__).resolve().parent))
import dialogues, questions
from verify import load
from model import prompt_layout

VERDICT = re.compile(r" (match|mismatch)\)|asked [a-z ]+, so the answer is (yes|no)|, (yes|no)(?=: (?:match|mismatch)\))")


def kind_of(answer):
    return "choice" if "which is option" in answer else "extreme" if "Checking sizes" in answer else \
        "count" if "The count is" in answer else "position"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--n", type=int, default=1500, help="records drawn (the judge prompts among them are skipped)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if not questions.CHECKS:
        sys.exit("verdict_probe.py: set PONDER_DEMO_CHECKS to the mode the weights were trained with (1 to 5).")
    missing = [f for f in ("tokenizer.json", "vision.pt", "text.pt") if not (a.weights / f).is_file()]
    if missing:
        sys.exit(f"verdict_probe.py: {a.weights} has no {', '.join(missing)} (train.py's output is expected).")
    torch.set_num_threads(a.threads)
    tok, m = load(a.weights, "medium_e")
    recs = [x for x in dialogues.generate(a.seed, a.n, (0.0, 0.0, 0.7, 0.5)) if x[1]["kind"] != "judge"]
    stats = defaultdict(lambda: [0, 0.0, 0])   # (kind, holds) -> n, sum of p(match), p(match) > 0.5
    with torch.no_grad():
        for jpeg, r in recs:
            question, answer = r["turns"][-1][0], r["turns"][-1][1]
            found = list(VERDICT.finditer(answer))
            if not found:
                continue
            prompt, full = prompt_layout(tok, question), tok.encode(answer)
            image = torch.from_numpy(np.array(Image.open(io.BytesIO(jpeg)).convert("RGB")))[None]
            logits = m.llm(inputs_embeds=m.embed(torch.tensor([prompt + full]), image)).logits[0].float()
            for v in found:
                at = v.start() if v.group(1) else v.start(2) - 1 if v.group(2) else v.start(3) - 1
                head = tok.encode(answer[:at])
                if full[:len(head)] != head:
                    continue
                words = (" match)", " mismatch)") if v.group(1) else (" yes.", " no.") if v.group(2) else (" yes:", " no:")
                pair = [tok.encode(answer[:at] + w)[len(head)] for w in words]
                p = torch.softmax(logits[len(prompt) + len(head) - 1][pair], 0)[0].item()
                s = stats[(kind_of(answer), v.group(1) == "match") if v.group(1) else
                          ("relation", v.group(2) == "yes") if v.group(2) else ("choice-item", v.group(3) == "yes")]
                s[0] += 1; s[1] += p; s[2] += p > 0.5
    print(f"{'kind':9s} {'check':6s} {'n':>4s} {'mean p(match)':>14s} {'says match':>11s}   (relation: holds = the answer is yes; relation, choice-item: p(yes))")
    for (kind, holds), (n, sp, says) in sorted(stats.items()):
        print(f"{kind:9s} {'holds' if holds else 'fails':6s} {n:4d} {sp / n:14.3f} {says:5d} of {n}")


if __name__ == "__main__":
    main()
