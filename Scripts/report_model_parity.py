#!/usr/bin/env python3
"""Markdown tables of Ponder's text-model parity with llama.cpp, for the README.

Runs the ModelParity tests (or reads their saved output) and collects the
`model-parity: {json}` line that each measurement prints, then joins them with the fixture
facts in Tests/InferenceTests/Fixtures/models/references.json.

Usage:
  python3 Scripts/report_model_parity.py                  # runs swift test (debug build)
  python3 Scripts/report_model_parity.py --scratch-path .build-parity
  swift test --filter ModelParity 2>&1 | python3 Scripts/report_model_parity.py --log -
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCES = REPO / "Tests/InferenceTests/Fixtures/models/references.json"
PREFIX = "model-parity: "


def collect(lines) -> dict[tuple[str, str], dict]:
    rows = {}
    for line in lines:
        at = line.find(PREFIX)
        if at < 0:
            continue
        try:
            record = json.loads(line[at + len(PREFIX):])
        except json.JSONDecodeError:
            continue  # e.g. the suite's doc comment, which the test runner may echo
        rows[(record["fixture"], record["path"])] = record
    return rows


def shape(fx: dict) -> str:
    attention = f"GQA {fx['n_head']}/{fx['n_head_kv']}" if fx["gqa"] else "MHA"
    extras = [attention, "tied" if fx["tied"] else "untied"]
    if fx.get("rope_freqs"):
        extras.append("rope_freqs")
    return ", ".join(extras)


def percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", help="read test output from this file ('-' for stdin) instead of running")
    parser.add_argument("--scratch-path", help="passed to swift test")
    args = parser.parse_args()

    if args.log:
        text = sys.stdin.read() if args.log == "-" else Path(args.log).read_text()
    else:
        command = ["swift", "test", "--filter", "ModelParity"]
        if args.scratch_path:
            command += ["--scratch-path", args.scratch_path]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        text = done.stdout + done.stderr
        if done.returncode != 0:
            print(f"note: `{' '.join(command)}` exited with {done.returncode}; "
                  "failing measurements are still listed", file=sys.stderr)
    rows = collect(text.splitlines())
    if not rows:
        print("no model-parity lines found in the test output", file=sys.stderr)
        return 1

    refs = json.loads(REFERENCES.read_text())
    tolerance = refs["logit_tolerance"]
    print(f"Prompt of {len(refs['prompt'])} tokens, logits at every position; llama.cpp "
          f"(llama-cpp-python {refs['llama_cpp_python']}) with an f32 KV cache, flash attention "
          "off and weight repacking off.\n")
    print(f"| fixture | model | max\\|Δ\\|/max\\|ref\\| vs llama.cpp (bound {tolerance:g}) "
          "| greedy tokens equal | vs f32 weights: Ponder / llama.cpp |")
    print("|---|---|---|---|---|")
    for fx in refs["fixtures"]:
        if "twin_logits" in fx:
            continue
        prefill = rows.get((fx["name"], "prefill"), {})
        greedy = rows.get((fx["name"], "greedy"), {})
        error = f"{prefill['max_relative']:.2e}" if "max_relative" in prefill else "—"
        tokens = (f"{int(greedy['matching_tokens'])}/{int(greedy['tokens'])}"
                  if "matching_tokens" in greedy else "—")
        exact = (f"{prefill['max_relative_vs_f32_weights']:.2e} / "
                 f"{prefill['llama_cpp_max_relative_vs_f32_weights']:.2e}"
                 if "max_relative_vs_f32_weights" in prefill else "")
        print(f"| {fx['name']} | {fx['arch']} {fx['type']}, {shape(fx)} | {error} | {tokens} | {exact} |")

    print("\nQuantized fixtures against their dequantized-f32 twin (llama.cpp's logits of the "
          "twin are the truth). Bounds: relative RMS ≤ 1.1× llama.cpp's; argmax agreement ≥ "
          "llama.cpp's − 1 point.\n")
    print("| fixture | model | path | relative RMS: Ponder / llama.cpp | argmax agreement: Ponder / llama.cpp "
          "| Ponder vs llama.cpp's quantized logits (max rel.) |")
    print("|---|---|---|---|---|---|")
    for fx in refs["fixtures"]:
        if "twin_logits" not in fx:
            continue
        ref = fx["llama_cpp_vs_twin"]
        for path in ("prefill", "decode"):
            row = rows.get((fx["name"], path))
            if row is None:
                print(f"| {fx['name']} | {fx['arch']} {fx['type']}, {shape(fx)} | {path} | — / "
                      f"{ref['relative_rms']:.2e} | — / {percent(ref['argmax_agreement'])} | — |")
                continue
            print(f"| {fx['name']} | {fx['arch']} {fx['type']}, {shape(fx)} | {path} | "
                  f"{row['relative_rms']:.2e} / {ref['relative_rms']:.2e} | "
                  f"{percent(row['argmax_agreement'])} / {percent(ref['argmax_agreement'])} | "
                  + (f"{row['max_relative_vs_llama_cpp']:.2e} |" if "max_relative_vs_llama_cpp" in row else "— |"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
