#!/usr/bin/env python3
"""Benchmark Llama 3.2 Vision (mllama) at its real shape, with transformers' vision encoder on
the same image as the reference point, measured in the same run.

Runs, on the model that `Scripts/make_mllama_bench_model.py` writes (or any mllama GGUF and
its projector), with the same thread count everywhere:
  * image encode seconds for a 1-tile and a 4-tile image: `ponder bench -p 0 -n 0`, alternating
    with transformers' `MllamaVisionModel` (random weights of the same shape, float32, the
    image through its processor) on the same images;
  * prompt tokens/s (the prompt starts with the 4-tile image: its cross-attention K/V included)
    and generation tokens/s: `ponder bench -p P -n N`;
  * resident memory of that ponder process (peak RSS from /usr/bin/time);
  * the cost of stage-beam N=4 against greedy on one question (`ponder ask --json`, the image
    encoded once, its vision K/V computed once and shared by every candidate): greedy gets
    4 × --ask-tokens for its whole answer, stage-beam --ask-tokens per stage and candidate.
Prints a Markdown table and writes the raw numbers as JSON.

Usage:  python3 Scripts/bench_mllama.py MODEL.gguf MMPROJ.gguf [--threads 2] [--out results.json]
Needs:  numpy, pillow, torch (CPU) and transformers for the reference; GNU time (apt: time).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ponder_binary():
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    return os.path.join(path, "ponder")


def make_images(folder):
    rng = np.random.default_rng(3)
    paths = {}
    for name, (w, h) in {"tiles1": (500, 420), "tiles4": (1100, 1050)}.items():
        y, x = np.mgrid[0:h, 0:w]
        rgb = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 127 // (w + h))], -1).astype(np.int32)
        rgb = np.clip(rgb + rng.integers(-20, 20, size=rgb.shape), 0, 255).astype(np.uint8)
        paths[name] = os.path.join(folder, f"bench-{name}.png")
        Image.fromarray(rgb).save(paths[name])
    return paths


def run_timed(command):
    """Runs under GNU time; returns (stdout, peak RSS in bytes)."""
    result = subprocess.run(["/usr/bin/time", "-v"] + command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) * 1024
    return result.stdout, rss


def ponder_image_seconds(ponder, model, mmproj, image, threads):
    out, rss = run_timed([ponder, "bench", "--model", model, "--mmproj", mmproj, "--image", image, "-p", "0", "-n", "0",
                          "--repeat", "1", "--threads", str(threads), "--json", "--no-bandwidth"])
    return next(json.loads(line)["seconds"] for line in out.splitlines() if '"image"' in line), rss


class TransformersVision:
    def __init__(self, threads):
        sys.modules.setdefault("torchvision", None)  # transformers' image utils work without it
        import torch
        import transformers.utils.import_utils as iu
        iu._torchvision_available = False
        from transformers.models.mllama.configuration_mllama import MllamaVisionConfig
        from transformers.models.mllama.modeling_mllama import MllamaVisionModel
        from transformers.models.mllama.image_processing_pil_mllama import MllamaImageProcessorPil
        torch.set_num_threads(threads)
        self.torch = torch
        config = MllamaVisionConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_global_layers=8,
                                    attention_heads=16, image_size=560, patch_size=14, max_num_tiles=4,
                                    intermediate_layers_indices=[3, 7, 15, 23, 30], vision_output_dim=7680)
        with torch.no_grad():
            self.model = MllamaVisionModel(config).eval()
        self.processor = MllamaImageProcessorPil(size={"height": 560, "width": 560}, max_image_tiles=4)

    def seconds(self, path):
        start = time.perf_counter()
        inputs = self.processor(images=[[Image.open(path).convert("RGB")]], return_tensors="pt")
        with self.torch.no_grad():
            self.model(pixel_values=inputs["pixel_values"], aspect_ratio_ids=inputs["aspect_ratio_ids"],
                       aspect_ratio_mask=inputs["aspect_ratio_mask"])
        return time.perf_counter() - start


def ask(ponder, model, mmproj, image, threads, strategy, tokens):
    command = [ponder, "ask", "--model", model, "--mmproj", mmproj, "--image", image, "--threads", str(threads),
               "--max-tokens", str(tokens), "--seed", "1", "--json", "--no-stage-instruction",
               "--strategy", strategy, "What is in this image?"]
    if strategy == "stage-beam":
        command += ["--beam", "4", "--judge", "logprob"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(out.stderr[-2000:])
    done = next(json.loads(line) for line in out.stdout.splitlines() if '"event":"done"' in line)
    return dict(wall=wall, **done["stats"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("mmproj")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-p", type=int, default=128)
    parser.add_argument("-n", type=int, default=32)
    parser.add_argument("--ask-tokens", type=int, default=16)
    parser.add_argument("--out", default="bench-mllama.json")
    parser.add_argument("--skip-transformers", action="store_true")
    parser.add_argument("--resume", help="results JSON of an earlier run: keep its figures, run only what it lacks")
    args = parser.parse_args()
    ponder = ponder_binary()
    images = make_images(os.path.dirname(os.path.abspath(args.out)))
    results = {"threads": args.threads}
    if args.resume:
        results.update(json.load(open(args.resume)))

    reference = None if args.skip_transformers or "ponder_image_tiles4_s" in results else TransformersVision(args.threads)
    for name, path in images.items():   # alternating, one image at a time
        if f"ponder_image_{name}_s" in results:
            continue
        seconds, _ = ponder_image_seconds(ponder, args.model, args.mmproj, path, args.threads)
        results[f"ponder_image_{name}_s"] = seconds
        if reference:
            results[f"transformers_image_{name}_s"] = reference.seconds(path)
        print(json.dumps(results), file=sys.stderr)
    del reference

    out, rss = ("", results.get("ponder_peak_rss_bytes", 0)) if "tg_tokens_per_s" in results else run_timed(
        [ponder, "bench", "--model", args.model, "--mmproj", args.mmproj, "--image", images["tiles4"],
         "-p", str(args.p), "-n", str(args.n), "--repeat", "1", "--threads", str(args.threads), "--json"])
    for line in out.splitlines():
        row = json.loads(line)
        if row["test"].startswith("pp"):
            results["pp_tokens_per_s"] = row["tokens_per_second"]
        elif row["test"].startswith("tg"):
            results["tg_tokens_per_s"] = row["tokens_per_second"]
            results["bandwidth_gbps"] = [row.get("bandwidth_gbps_before"), row.get("bandwidth_gbps_after")]
    results["ponder_peak_rss_bytes"] = rss
    print(json.dumps(results), file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)

    # Greedy writes the whole answer with the budget of four stages; stage-beam has it per stage.
    for strategy in ["greedy", "stage-beam"]:
        if f"ask_{strategy}" in results:
            continue
        tokens = args.ask_tokens * (4 if strategy == "greedy" else 1)
        results[f"ask_{strategy}"] = ask(ponder, args.model, args.mmproj, images["tiles4"], args.threads, strategy, tokens)
        print(json.dumps(results), file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)

    g, b = results["ask_greedy"], results["ask_stage-beam"]
    rows = [("image encode, 1 tile (s)", results["ponder_image_tiles1_s"], results.get("transformers_image_tiles1_s")),
            ("image encode, 4 tiles (s)", results["ponder_image_tiles4_s"], results.get("transformers_image_tiles4_s")),
            (f"prompt, pp{args.p} after the image (tokens/s)", results["pp_tokens_per_s"], None),
            (f"generation, tg{args.n} (tokens/s)", results["tg_tokens_per_s"], None),
            ("peak resident memory (GB)", rss / 1e9, None),
            ("greedy: seconds / generated tokens", f"{g['seconds']:.1f} / {g['generated_tokens']}", None),
            ("stage-beam N=4: seconds / generated tokens", f"{b['seconds']:.1f} / {b['generated_tokens']}", None),
            ("stage-beam N=4 cost (× greedy)", b["seconds"] / g["seconds"], None)]
    print(f"| {args.threads} threads | Ponder | transformers |\n|---|---|---|")
    for label, mine, theirs in rows:
        fmt = lambda v: "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
        print(f"| {label} | {fmt(mine)} | {fmt(theirs)} |")


if __name__ == "__main__":
    main()
