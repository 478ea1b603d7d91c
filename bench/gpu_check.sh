#!/bin/sh
# GPU proof on a machine with an NVIDIA GPU (driver + CUDA 12 runtime and cuDNN 9, as onnxruntime-node 1.30 needs):
# installs onnxruntime-node's CUDA execution provider into this checkout, then runs bench/gpu_check.ts, which checks
# parity with transformers on every reference fixture, one training step and greedy generation on the `cuda`
# provider against `cpu`, and prints one table. Takes about a minute after the download (< 5 min in all).
#
#   bench/gpu_check.sh              # CUDA_VISIBLE_DEVICES picks the GPU (default: the first)
#   bench/gpu_check.sh --provider cpu   # the same checks on CPU (to try the script on a machine without a GPU)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DENO=${COOP_DENO:-$(command -v deno || echo "$ROOT/.tools/node_modules/.bin/deno")}

case " $* " in
  *" --provider cpu "*) exec "$DENO" run -A bench/gpu_check.ts "$@" ;;
esac

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU here (nvidia-smi -L fails); run with --provider cpu to try the script" >&2
  exit 2
fi
nvidia-smi -L

[ -d node_modules/onnxruntime-node ] || "$DENO" install --quiet
ORT=$(cd node_modules/onnxruntime-node && pwd -P)
PROVIDER="$ORT/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so"
if [ ! -f "$PROVIDER" ]; then
  # The npm package ships the CPU build; its install script fetches the CUDA provider libraries from NuGet.
  echo "gpu_check: installing onnxruntime-node's CUDA 12 provider into $ORT ..." >&2
  command -v node >/dev/null 2>&1 || { echo "gpu_check: the provider install needs Node.js (node) on PATH" >&2; exit 2; }
  (cd "$ORT" && node script/install.js --onnxruntime-node-install=cuda12)
  [ -f "$PROVIDER" ] || { echo "gpu_check: $PROVIDER is still missing after the install" >&2; exit 1; }
fi
exec "$DENO" run -A bench/gpu_check.ts "$@"
