#!/usr/bin/env bash
# Every GPU check in one call, for a machine with CUDA (the dev and CI machines have none):
#   bash bench/gpu_check.sh            -> bench/out/gpu_check.log (and $OUT/ when the device tool runs it)
# Installs into .venv if needed, runs the CUDA tests, then a real-model generate and QLoRA step on the GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/out}
mkdir -p "$out"
[ -x .venv/bin/python ] || bash .ci/install --test
export LAB_HOME=$(mktemp -d) HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
{
  nvidia-smi || true
  .venv/bin/python -c "import torch; print('cuda', torch.cuda.is_available(), torch.version.cuda)"
  .venv/bin/python -m pytest -q tests/test_gpu.py tests/test_finetune.py -k "cuda or qlora or loftq" -rs
  echo '{"kind": "generate", "device": "cuda", "prompts": ["What is the capital of France?"]}' \
    | .venv/bin/python -m lab run - --wait
  echo '{"kind": "finetune", "method": "qlora", "max_steps": 10, "batch_size": 8}' \
    | .venv/bin/python -m lab run - --wait
  # LoftQ runs on CUDA only (peft quantizes the full-precision base there); the CPU tests only check its refusal
  echo '{"kind": "finetune", "method": "loftq", "max_steps": 10, "batch_size": 8}' \
    | .venv/bin/python -m lab run - --wait
  # Quantize & compress: CUDA tests, then every scheme (fp16 included) and a prune sweep on the default model
  .venv/bin/python -m pytest -q tests/test_quantize_gpu.py -rs
  echo '{"kind": "quantize", "device": "cuda", "schemes": ["fp32", "bf16", "fp16", "int8", "nf4", "fp4", "rtn"], "compute_dtype": "bf16"}' \
    | .venv/bin/python -m lab run - --wait
  echo '{"kind": "prune", "device": "cuda"}' | .venv/bin/python -m lab run - --wait
  .venv/bin/python bench/quantize_memory.py --device cuda
  # Several processes (issue 24): with 2+ GPUs a 2-process fine-tune over NCCL and tokens/s at 1 vs 2
  # processes; on one GPU the 2-process CPU (gloo) tests, which hide the GPU from their jobs.
  if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
    echo '{"kind": "finetune", "method": "lora", "max_steps": 20, "batch_size": 8, "processes": "2"}' \
      | .venv/bin/python -m lab run - --wait
    .venv/bin/python bench/ddp_speed.py --model smollm2-135m-instruct --method lora --dtype bf16 --batch 16 \
      --steps 20 --processes 1,2 --out "$out/ddp_speed.json"
  else
    echo "fewer than 2 GPUs: the 2-GPU case is skipped"
    .venv/bin/python -m pytest -q tests/test_distributed.py -rs
  fi
  .venv/bin/python -m lab list
} 2>&1 | tee "$out/gpu_check.log"
