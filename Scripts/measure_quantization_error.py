#!/usr/bin/env python3
"""How far llama.cpp's own quantized files are from the F32 model they were quantized from,
on a text family of the mllama fixture's width: the bound that `MllamaQuantizedTests` holds
Ponder's quantized mllama conversions to.

Converts the llama fixture of `Tests/InferenceTests/Fixtures/convert/llama3` (width 64, Llama 3
rope, unit-scale weights) to F32 with `ponder convert`, quantizes it with llama.cpp's
`llama_model_quantize` to Q8_0 and Q4_K_M, and takes llama.cpp's logits of a 64-token prompt
for each (f32 KV cache, flash attention and repacking off), prefilled in one batch. Writes the
relative RMS of each quantized model's logits against the F32 model's to
`Tests/InferenceTests/Fixtures/mllama/quantization.json`.

Usage:  python3 Scripts/measure_quantization_error.py [--ponder .build/release/ponder]
Needs:  llama-cpp-python==0.3.36 built from source, numpy, gguf.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Scripts"))
import make_model_fixtures as mmf  # noqa: E402  (llama.cpp runner, metrics)
from compare_quantize import FTYPES, llama_quantize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ponder", default=str(ROOT / ".build/release/ponder"))
    args = parser.parse_args()
    out = ROOT / "Tests/InferenceTests/Fixtures/mllama/quantization.json"
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = Path(tmp) / "llama3-f32.gguf"
        subprocess.run([args.ponder, "convert", str(ROOT / "Tests/InferenceTests/Fixtures/convert/llama3"),
                        "--out", str(f32), "--type", "F32"], check=True)
        vocab = json.load(open(ROOT / "Tests/InferenceTests/Fixtures/convert/llama3/config.json"))["vocab_size"]
        prompt = [int(t) for t in rng.integers(0, vocab, size=64)]
        reference = mmf.prompt_logits(f32, prompt)
        results = {"model": "Tests/InferenceTests/Fixtures/convert/llama3 (llama, width 64, 2 layers)",
                   "prompt_tokens": len(prompt), "llama_cpp_python": "0.3.36",
                   "definition": mmf.RMS_DEFINITION.replace("twin", "F32 model") if hasattr(mmf, "RMS_DEFINITION")
                   else "sqrt(mean((a - f32)^2)) / sqrt(mean(f32^2)) over every position and vocabulary entry",
                   "relative_rms": {}}
        for name in ["Q8_0", "Q4_K_M"]:
            path = Path(tmp) / f"llama3-{name}.gguf"
            llama_quantize(f32, path, FTYPES[name], 2)
            results["relative_rms"][name] = mmf.relative_rms(mmf.prompt_logits(path, prompt), reference)
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
