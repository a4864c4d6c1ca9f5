#!/usr/bin/env python3
"""Accuracy against compute for the demo model: `ponder eval` with greedy decoding, and with
best-of-N and stage-beam at N = 2, 4 and 8 under each judge, on one held-out question set.

Runs `--parallel` evaluations at a time (one thread each by default), writes every summary to
--out (JSON), prints the README's Markdown table, and with --plot draws accuracy against the
tokens generated per question (a PNG; needs matplotlib).

Usage:
  python3 Scripts/demo/scenes.py --out held-out --seed 1000 --n 500
  python3 Scripts/demo/scaling.py --data held-out/data.jsonl --out scaling.json --plot scaling.png
      [--ponder .build/release/ponder] [--beams 2,4,8] [--judges logprob,self,first] [--limit K]
      [--parallel 2] [--threads 1] [--seed 1] [--model M.gguf --mmproj P.gguf]
  python3 Scripts/demo/scaling.py --from scaling.json --plot scaling.png     # table and plot only
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def runs(beams, judges):
    """(strategy, beam, judge) of every evaluation, greedy first."""
    out = [("greedy", 1, "first")]
    for strategy in ("best-of-n", "stage-beam"):
        for judge in judges:
            for beam in beams:
                out.append((strategy, beam, judge))
    return out


def evaluate(args, strategy, beam, judge):
    cmd = [args.ponder, "eval", "--data", args.data, "--strategy", strategy, "--beam", str(beam), "--judge", judge,
           "--seed", str(args.seed), "--threads", str(args.threads), "--json", "--quiet"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    if args.model:
        cmd += ["--model", args.model, "--mmproj", args.mmproj]
    start = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr.strip()}")
    summary = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")][-1]
    summary.update(strategy=strategy, beam=beam, judge=judge, wall=time.time() - start)
    print(f"{strategy} N={beam} {judge}: {100 * summary['accuracy']:.1f}% in {summary['seconds']:.0f} s",
          file=sys.stderr, flush=True)
    return summary


def table(rows):
    greedy = next(r for r in rows if r["strategy"] == "greedy")
    lines = ["| strategy | N | judge | accuracy | tokens per question | wall time | × greedy time |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        label = "greedy" if r["strategy"] == "greedy" else r["strategy"]
        lines.append(f"| {label} | {r['beam'] if r['strategy'] != 'greedy' else 1} | "
                     f"{r['judge'] if r['strategy'] != 'greedy' else '–'} | {100 * r['accuracy']:.1f}% | "
                     f"{r['generated_tokens'] / r['questions']:.0f} | {r['seconds']:.0f} s | "
                     f"{r['seconds'] / greedy['seconds']:.2f} |")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=120)
    greedy = next(r for r in rows if r["strategy"] == "greedy")
    ax.scatter([greedy["generated_tokens"] / greedy["questions"]], [100 * greedy["accuracy"]], color="black",
               zorder=3, label="greedy")
    styles = {"best-of-n": "--", "stage-beam": "-"}
    colours = {"logprob": "tab:blue", "self": "tab:red", "first": "tab:gray"}
    for strategy in ("best-of-n", "stage-beam"):
        for judge in colours:
            sel = sorted((r for r in rows if r["strategy"] == strategy and r["judge"] == judge), key=lambda r: r["beam"])
            if not sel:
                continue
            xs = [r["generated_tokens"] / r["questions"] for r in sel]
            ys = [100 * r["accuracy"] for r in sel]
            ax.plot(xs, ys, styles[strategy], marker="o", color=colours[judge], label=f"{strategy}, {judge} judge")
            for x, y, r in zip(xs, ys, sel):
                ax.annotate(f"N={r['beam']}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("tokens generated per question")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Ponder demo model, {greedy['questions']} held-out questions")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--from", dest="source", type=Path, help="a JSON file of an earlier run: no evaluation")
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--ponder", default=".build/release/ponder")
    ap.add_argument("--model", help="a text GGUF other than the bundled demo model (with --mmproj)")
    ap.add_argument("--mmproj")
    ap.add_argument("--beams", default="2,4,8")
    ap.add_argument("--judges", default="logprob,self,first")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.source:
        rows = json.loads(args.source.read_text())
    else:
        if not args.data or not args.out:
            raise SystemExit("--data and --out are needed (or --from an earlier run)")
        plan = runs([int(b) for b in args.beams.split(",")], args.judges.split(","))
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            rows = list(pool.map(lambda r: evaluate(args, *r), plan))
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
