#!/usr/bin/env python3
"""Engine speed: Ponder vs llama.cpp on the same GGUF and thread count, in one run.

Builds (once, cached under .build-bench/) a random-weight model shaped like Llama-3.2-1B
(embd 2048, 16 layers, 32 heads, 8 KV heads, ff 8192, vocab 128256, tied output) and quantizes
it with llama.cpp to Q8_0 and Q4_K_M. Then, for each model, it alternates llama.cpp
(llama-cpp-python, built from source) and `ponder bench --json` runs:

  pp<P>          prompt processing, P tokens in one batch
  tg<N>          generation, N tokens one at a time from an empty context
  tg<N>@d<D>     generation after a D-token context
  tg<N>x<B>      B sequences decoded together (aggregate tokens/s)

and measures read bandwidth right before and after, so generation can be put against the
memory limit: (bytes of weights read per token) / (bandwidth).

Usage:
  swift build -c release && python3 Scripts/bench_engine.py [--types q8_0,q4_k_m] [--threads 2]
      [-p 512] [-n 128] [--batch 4] [--depth 2048] [--repeat 2] [--ponder .build/release/ponder]
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

SHAPE = dict(n_embd=2048, n_layer=16, n_head=32, n_head_kv=8, n_ff=8192, n_vocab=128256)
_quiet = None
FTYPES = {"q8_0": 7, "q4_k_m": 15, "q4_k_s": 14, "q6_k": 18, "f16": 1}


# ---------------------------------------------------------------------------------- models

def write_random_f16(path, seed=1234):
    """A random-weight Llama-3.2-1B-shaped model in F16, with a byte-level BPE vocabulary that
    llama.cpp can load (the 256 byte tokens plus filler tokens, no merges)."""
    import gguf
    s = SHAPE
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("random-llama-3.2-1b-shape")
    w.add_context_length(8192)
    w.add_embedding_length(s["n_embd"])
    w.add_block_count(s["n_layer"])
    w.add_feed_forward_length(s["n_ff"])
    w.add_head_count(s["n_head"])
    w.add_head_count_kv(s["n_head_kv"])
    w.add_rope_dimension_count(s["n_embd"] // s["n_head"])
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(1)
    w.add_vocab_size(s["n_vocab"])
    # bytes-to-unicode alphabet, as GPT-2
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    tokens = [chr(c) for c in cs]
    tokens += [f"tok{i}" for i in range(s["n_vocab"] - len(tokens) - 2)]
    tokens += ["<|begin_of_text|>", "<|end_of_text|>"]
    types = [1] * (len(tokens) - 2) + [3, 3]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["Ġ Ġ"])
    w.add_bos_token_id(len(tokens) - 2)
    w.add_eos_token_id(len(tokens) - 1)

    def tensor(name, shape, scale=0.02):
        w.add_tensor(name, (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float16))

    tensor("token_embd.weight", (s["n_vocab"], s["n_embd"]))
    w.add_tensor("output_norm.weight", np.ones(s["n_embd"], dtype=np.float32))
    hd = s["n_embd"] // s["n_head"]
    for i in range(s["n_layer"]):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(s["n_embd"], dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(s["n_embd"], dtype=np.float32))
        tensor(f"blk.{i}.attn_q.weight", (s["n_embd"], s["n_embd"]))
        tensor(f"blk.{i}.attn_k.weight", (s["n_head_kv"] * hd, s["n_embd"]))
        tensor(f"blk.{i}.attn_v.weight", (s["n_head_kv"] * hd, s["n_embd"]))
        tensor(f"blk.{i}.attn_output.weight", (s["n_embd"], s["n_embd"]))
        tensor(f"blk.{i}.ffn_gate.weight", (s["n_ff"], s["n_embd"]))
        tensor(f"blk.{i}.ffn_up.weight", (s["n_ff"], s["n_embd"]))
        tensor(f"blk.{i}.ffn_down.weight", (s["n_embd"], s["n_ff"]))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def ensure_models(directory, types, threads):
    import llama_cpp
    os.makedirs(directory, exist_ok=True)
    f16 = os.path.join(directory, "llama1b-f16.gguf")
    if not os.path.exists(f16):
        print(f"writing {f16} (random weights) ...", flush=True)
        write_random_f16(f16 + ".tmp")
        os.rename(f16 + ".tmp", f16)
    paths = {}
    for t in types:
        out = os.path.join(directory, f"llama1b-{t}.gguf")
        if t == "f16":
            paths[t] = f16
            continue
        if not os.path.exists(out):
            print(f"quantizing to {t} with llama.cpp ...", flush=True)
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = FTYPES[t]
            params.nthread = threads
            rc = llama_cpp.llama_model_quantize(f16.encode(), (out + ".tmp").encode(), ctypes.byref(params))
            if rc != 0:
                raise SystemExit(f"llama_model_quantize failed for {t}: {rc}")
            os.rename(out + ".tmp", out)
        paths[t] = out
    return paths


def weight_bytes_per_token(path):
    """Bytes of weights one decode step reads: every 2-D weight, except that only one row of a
    separate token_embd is read (with a tied output, token_embd is read whole as the output)."""
    import gguf
    r = gguf.GGUFReader(path)
    names = {t.name: t for t in r.tensors}
    total = 0
    for t in r.tensors:
        if t.name == "token_embd.weight" and "output.weight" in names:
            total += int(t.n_bytes) // int(t.shape[-1])
        else:
            total += int(t.n_bytes)
    return total


# ---------------------------------------------------------------------------------- bandwidth

def read_bandwidth(threads, size=1 << 30):
    """GB/s of a streaming read over `size` bytes split across `threads` threads (numpy sum
    releases the GIL), best of 3."""
    a = np.ones(size // 4, dtype=np.float32)
    parts = np.array_split(a, threads)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        ts = [threading.Thread(target=np.sum, args=(p,)) for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        best = max(best, size / (time.perf_counter() - start) / 1e9)
    return best


# ---------------------------------------------------------------------------------- llama.cpp

class LlamaCpp:
    def __init__(self, path, threads, n_ctx, n_seq):
        import llama_cpp as L
        self.L = L
        global _quiet
        _quiet = L.llama_log_callback(lambda level, text, user: None)
        L.llama_log_set(_quiet, None)
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise SystemExit(f"llama.cpp could not load {path}")
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = 512
        cp.n_ubatch = 512
        cp.n_seq_max = n_seq
        cp.kv_unified = True   # one cache of n_ctx cells shared by all sequences, as Ponder's
        cp.n_threads = threads
        cp.n_threads_batch = threads
        self.ctx = L.llama_init_from_model(self.model, cp)
        self.n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(self.model))
        self.rng = np.random.default_rng(0)

    def clear(self):
        self.L.llama_memory_clear(self.L.llama_get_memory(self.ctx), True)

    def decode(self, entries):
        """entries: list of (token, pos, seq, logits)."""
        L = self.L
        b = L.llama_batch_init(len(entries), 0, 1)
        for i, (tok, pos, seq, want) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = want
        b.n_tokens = len(entries)
        rc = L.llama_decode(self.ctx, b)
        L.llama_batch_free(b)
        if rc != 0:
            raise SystemExit(f"llama_decode failed: {rc}")

    def tokens(self, n):
        return [int(t) for t in self.rng.integers(0, self.n_vocab - 2, n)]

    def prefill(self, n, seq=0, start=0):
        toks = self.tokens(n)
        for off in range(0, n, 512):
            chunk = toks[off:off + 512]
            self.decode([(t, start + off + i, seq, off + i == n - 1) for i, t in enumerate(chunk)])

    def pp(self, p):
        self.clear()
        start = time.perf_counter()
        self.prefill(p)
        return p / (time.perf_counter() - start)

    def tg(self, n, depth=0, batch=1):
        self.clear()
        if depth:
            self.prefill(depth)
            for s in range(1, batch):
                self.L.llama_memory_seq_cp(self.L.llama_get_memory(self.ctx), 0, s, -1, -1)
        start = time.perf_counter()
        for k in range(n):
            self.decode([(t, depth + k, s, True) for s, t in enumerate(self.tokens(batch))])
        return n * batch / (time.perf_counter() - start)

    def close(self):
        self.L.llama_free(self.ctx)
        self.L.llama_model_free(self.model)


# ---------------------------------------------------------------------------------- Ponder

def ponder_bench(ponder, path, threads, p, n, batch, depth):
    cmd = [ponder, "bench", "--model", path, "-p", str(p), "-n", str(n), "--threads", str(threads),
           "--batch", str(batch), "--depth", str(depth), "--repeat", "1", "--no-bandwidth", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"ponder bench failed: {out.stderr.strip()}")
    results = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            results[(r["test"], r.get("batch", 1), r.get("depth", 0))] = r["tokens_per_second"]
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--types", default="q8_0,q4_k_m")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--depth", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--models-dir", default=".build-bench/models")
    ap.add_argument("--ponder", default=".build/release/ponder")
    ap.add_argument("--skip-ponder", action="store_true", help="measure llama.cpp only")
    args = ap.parse_args()

    types = args.types.split(",")
    paths = ensure_models(args.models_dir, types, args.threads)
    rows = []
    for t in types:
        path = paths[t]
        wbytes = weight_bytes_per_token(path)
        tests = [("pp", args.p, 1, 0), ("tg", args.n, 1, 0), ("tg", args.n, 1, args.depth), ("tg", args.n, args.batch, 0)]
        best = {}
        bandwidths = []
        for _ in range(args.repeat):
            bandwidths.append(read_bandwidth(args.threads))
            lc = LlamaCpp(path, args.threads, args.depth + args.p + args.n + 64, max(args.batch, 1))
            for kind, count, batch, depth in tests:
                v = lc.pp(count) if kind == "pp" else lc.tg(count, depth, batch)
                key = ("llama.cpp", kind, batch, depth)
                best[key] = max(best.get(key, 0), v)
            lc.close()
            bandwidths.append(read_bandwidth(args.threads))
            if not args.skip_ponder:
                for p, n, batch, depth in [(args.p, 0, 1, 0), (0, args.n, 1, 0), (0, args.n, 1, args.depth),
                                           (0, args.n, args.batch, 0)]:
                    res = ponder_bench(args.ponder, path, args.threads, p, n, batch, depth)
                    for (test, b, d), v in res.items():
                        kind = "pp" if test.startswith("pp") else "tg"
                        key = ("ponder", kind, b, d)
                        best[key] = max(best.get(key, 0), v)
                bandwidths.append(read_bandwidth(args.threads))
        bw = sorted(bandwidths)[len(bandwidths) // 2]
        print(f"\n{os.path.basename(path)}: {wbytes / 1e9:.2f} GB of weights read per token; "
              f"read bandwidth {min(bandwidths):.1f}-{max(bandwidths):.1f} GB/s (median {bw:.1f}), {args.threads} threads")
        print(f"{'test':<16}{'llama.cpp t/s':>15}{'ponder t/s':>12}{'ratio':>8}{'ponder % of bw limit':>22}")
        for kind, count, batch, depth in tests:
            name = f"{kind}{count}" + (f"@d{depth}" if depth else "") + (f"x{batch}" if batch > 1 else "")
            lc_v = best.get(("llama.cpp", kind, batch, depth))
            po_v = best.get(("ponder", kind, batch, depth))
            limit = bw * 1e9 / wbytes
            ratio = f"{po_v / lc_v:.2f}" if (po_v and lc_v) else "-"
            pct = f"{100 * po_v / batch / limit:.0f}%" if (po_v and kind == "tg" and depth == 0) else ""
            lcpct = f" (llama.cpp {100 * lc_v / batch / limit:.0f}%)" if (lc_v and kind == "tg" and depth == 0) else ""
            print(f"{name:<16}{lc_v or 0:>15.2f}{po_v or 0:>12.2f}{ratio:>8}{pct + lcpct:>22}")
            rows.append(dict(model=t, test=name, llama_cpp=lc_v, ponder=po_v, bandwidth_gbps=bw,
                             weight_bytes=wbytes, threads=args.threads))
    print("\n" + json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
