#!/usr/bin/env python3
"""What stage-level beam search costs: `ponder ask` with each strategy on the same model,
question, image, seed and thread count, in one window.

Runs, alternating, `--repeat` rounds of
  * greedy              one pass, temperature 0;
  * stage-beam (logprob) N candidates per stage decoded as one batch from forks of the
                         accepted prefix, the mean-log-probability judge;
  * stage-beam (self)    the same with the model judging its own candidates (knockout,
                         N-1 comparisons per stage, each forking the shared prompt);
  * naive stage-beam     the reference implementation's way (`ask --naive`): every candidate
                         generated on its own from scratch, the image encoded again for every
                         candidate and every judge call, and every judge prompt prefilled whole;
and prints, per strategy, the best process wall time (model loading included), the
reasoning time (`stats.seconds`: everything after the image is encoded once, for the naive
run the re-encodings too), tokens generated and prefilled, and the ratio to greedy.

A random-weight model never closes a stage, so every stage runs to its budget: with
`--stage-tokens B`, the stage-beam runs get `--max-tokens B` (per stage) and greedy gets
`--max-tokens 4B` (the whole answer), so each candidate path is as long as the greedy answer.
A trained model (the bundled demo model) closes its stages itself; then `--stage-tokens`
only caps them.

Usage:
  swift build -c release --product ponder
  python3 Scripts/bench_reasoning.py [--model M.gguf --mmproj P.gguf --image I]
      [--question Q] [--beam 4] [--threads 2] [--repeat 2] [--stage-tokens 128] [--json]
Without --model it uses the bundled demo model, its sample image and question.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ponder_binary(given: str | None) -> str:
    if given:
        return given
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    return str(Path(out) / "ponder")


def run_ask(ponder: str, base: list[str], extra: list[str], question: str) -> dict:
    command = [ponder, "ask", *base, *extra, "--json", question]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"ponder ask failed ({' '.join(command)}): {result.stderr.strip()}")
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    done = next(obj for obj in lines if obj.get("event") == "done")
    return dict(wall=wall, seconds=done["stats"]["seconds"], generated=done["stats"]["generated_tokens"],
                prompt=done["stats"]["prompt_tokens"], answer=done["answer"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--mmproj")
    parser.add_argument("--image")
    parser.add_argument("--question")
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--stage-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ponder")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive run (it is slow)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    ponder = ponder_binary(args.ponder)
    base = ["--threads", str(args.threads), "--seed", str(args.seed)]
    question = args.question
    if args.model:
        base += ["--model", args.model]
        if args.mmproj:
            base += ["--mmproj", args.mmproj]
    else:
        demo = ROOT / "Models" / "demo"
        sample = json.loads((demo / "sample.json").read_text())
        args.image = args.image or str(demo / sample["image"])
        question = question or sample["question"]
    if args.image:
        base += ["--image", args.image]
    question = question or "What is in the picture, and how many of them are there?"

    n, b = str(args.beam), args.stage_tokens
    runs = {
        "greedy": ["--strategy", "greedy", "--max-tokens", str(4 * b)],
        f"stage-beam N={n} (logprob)": ["--strategy", "stage-beam", "--beam", n, "--judge", "logprob",
                                        "--max-tokens", str(b)],
        f"stage-beam N={n} (self)": ["--strategy", "stage-beam", "--beam", n, "--judge", "self", "--max-tokens", str(b)],
    }
    if not args.skip_naive:
        runs[f"naive stage-beam N={n} (self)"] = ["--strategy", "stage-beam", "--beam", n, "--judge", "self",
                                                   "--max-tokens", str(b), "--naive"]
    best: dict[str, dict] = {}
    for round_index in range(args.repeat):
        for name, extra in runs.items():
            print(f"round {round_index + 1}/{args.repeat}: {name}", file=sys.stderr, flush=True)
            got = run_ask(ponder, base, extra, question)
            if name not in best or got["wall"] < best[name]["wall"]:
                best[name] = got
    greedy = best["greedy"]
    rows = []
    for name, got in best.items():
        rows.append(dict(strategy=name, wall_seconds=round(got["wall"], 3), reasoning_seconds=round(got["seconds"], 3),
                         generated_tokens=got["generated"], prompt_tokens=got["prompt"],
                         wall_vs_greedy=round(got["wall"] / greedy["wall"], 2),
                         reasoning_vs_greedy=round(got["seconds"] / greedy["seconds"], 2), answer=got["answer"]))
    table = ["| strategy | wall × greedy | reasoning × greedy | tokens generated | tokens prefilled |",
             "|---|---|---|---|---|"]
    for row in rows:
        table.append(f"| {row['strategy']} | {row['wall_vs_greedy']:.2f} | {row['reasoning_vs_greedy']:.2f} | "
                     f"{row['generated_tokens']} | {row['prompt_tokens']} |")
    print("\n".join(table), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
