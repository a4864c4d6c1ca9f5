#!/usr/bin/env python3
"""Tokenizer speed: Ponder vs llama.cpp on the same GGUF and the same 1 MB of English text.

Generates a deterministic ~1 MB English-like text, times llama.cpp's `llama_tokenize`
(llama-cpp-python, vocab only, best of 3), then runs the Ponder command and reads its time.

Usage:
  python3 Scripts/bench_tokenizer.py [--model Tests/InferenceTests/Fixtures/tokenizers/bpe-llama-bpe.gguf]
      [--ponder ".build/release/ponder tokenize --model {model} --file {text} --timing"] [--special]

`--ponder` is a command template; `{model}` and `{text}` are filled in. Its wall-clock time
(process start and vocabulary load included) is reported; if it prints a line with
`tokenize X s` (stdout or stderr), that in-process time is reported as well. Ponder's token count must equal
llama.cpp's when the command prints its ids (one line of space-separated ids).
"""
import argparse
import ctypes
import os
import random
import re
import shlex
import subprocess
import tempfile
import time

WORDS = ("the of and to in is was for on that with as by at from it this be are have not model token "
         "image question answer reason stage caption summary conclusion judge beam search candidate "
         "prompt weights memory kernel matrix vector batch cache shape circle square triangle red "
         "green blue large small left right above below quick brown fox jumps over lazy dog people "
         "world time year day way thing man woman child life hand part place case week company "
         "system program number night point home water room mother area money story fact month lot "
         "study book eye job word business issue side kind head house service friend father power "
         "hour game line end member law car city community name president team minute idea kid "
         "body information back parent face others level office door health person art war history "
         "party result change morning research girl guy moment air teacher force education "
         "it's don't we're they've I'm you'll").split()


def english_text(size=1 << 20, seed=7):
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        n = rng.randint(6, 24)
        sentence = " ".join(rng.choice(WORDS) for _ in range(n))
        if rng.random() < 0.15:
            sentence += f" {rng.randint(0, 100000)}"
        sentence = sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ".", "!", "?", ","])
        sentence += "\n\n" if rng.random() < 0.1 else " "
        parts.append(sentence)
        total += len(sentence)
    return "".join(parts)[:size]


def llama_cpp_time(model, text, special):
    import llama_cpp

    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    start = time.perf_counter()
    m = llama_cpp.llama_model_load_from_file(model.encode(), params)
    load = time.perf_counter() - start
    vocab = llama_cpp.llama_model_get_vocab(m)
    data = text.encode("utf-8")
    buf = (llama_cpp.llama_token * (len(data) + 16))()
    best, n = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, len(data) + 16, True, special)
        best = min(best, time.perf_counter() - start)
    ids = list(buf[:n])
    llama_cpp.llama_model_free(m)
    return load, best, ids


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="Tests/InferenceTests/Fixtures/tokenizers/bpe-llama-bpe.gguf")
    ap.add_argument("--ponder", default=".build/release/ponder tokenize --model {model} --file {text} --timing")
    ap.add_argument("--special", action="store_true")
    args = ap.parse_args()

    text = english_text()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(text)
        path = f.name
    try:
        load, seconds, ids = llama_cpp_time(args.model, text, args.special)
        print(f"text: {len(text.encode())} bytes, {len(ids)} tokens (llama.cpp)")
        print(f"llama.cpp: load {load:.3f} s, tokenize {seconds:.3f} s (best of 3)")
        command = args.ponder.format(model=shlex.quote(args.model), text=shlex.quote(path))
        if args.special:
            command += " --special"
        start = time.perf_counter()
        result = subprocess.run(command, shell=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            print(f"ponder failed ({result.returncode}): {result.stderr.strip()}")
            return 1
        line = f"ponder: wall {wall:.3f} s (process, load and tokenize)"
        match = re.search(r"tokenize ([0-9.]+) s", result.stdout + result.stderr)
        if match:
            ponder = float(match.group(1))
            line += f", tokenize {ponder:.3f} s; ratio ponder/llama.cpp = {ponder / seconds:.2f}"
        else:
            line += f"; ratio (wall) ponder/llama.cpp = {wall / seconds:.2f}"
        print(line)
        counted = re.search(r"([0-9]+) tokens", result.stderr)
        if counted:
            print(f"token count identical to llama.cpp: {int(counted.group(1)) == len(ids)}")
        first = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        if re.fullmatch(r"[0-9 ]+", first):
            same = [int(t) for t in first.split()] == ids
            print(f"token ids identical to llama.cpp: {same}")
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
