#!/usr/bin/env bash
# The GPU benchmarks of the fast path, in one command for a session that is lent a GPU (the `device` tool).
#
# The GPU image has torch but not gymnasium (ppo_lite.envs uses its spaces). Once, here, in the repo root:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .whl gymnasium==1.4.0 farama-notifications==0.0.4
# then run this script there with carry=[".whl"]:
#   bash bench/gpu_checks.sh                  # writes bench/results/*_cuda.md and copies them to $OUT
# On a CPU it runs the same commands at small sizes (DEVICE=cpu QUICK=1 bash bench/gpu_checks.sh), which is how
# it is checked without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
DEVICE="${DEVICE:-cuda}"
python3 -c "import torch; print('torch', torch.__version__, '| cuda:', torch.cuda.is_available(), '|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"

RESULTS="${PPO_LITE_BENCH_RESULTS:-bench/results}"
if [[ "${QUICK:-0}" == 1 ]]; then
  STEP_SIZES="1 64 1024"; COMPILE_SIZES="1024"; TRAIN_SIZES="8 64"; BATCH=256; REPEATS=1
  AGENTS="1 2"; AGENT_STEPS=256
  SCALING=(--envs 4 8 --step-envs 1 64 --gym-envs 2 --seeds 1 --max-steps 1024 --fixed-steps 512 --return-seeds 2
           --episodes 2 --agents 1 2 --agent-steps 256 --quick)
  RESULTS="${PPO_LITE_BENCH_RESULTS:-/tmp/ppo_lite_bench_quick}"  # a smoke run keeps the committed tables
  export PPO_LITE_BENCH_RESULTS="$RESULTS"
else
  # torch.compile recompiles for every N (tens of seconds each), so the compiled table has three widths only
  STEP_SIZES="1 16 256 4096 65536 262144 1048576"; COMPILE_SIZES="4096 65536 1048576"; TRAIN_SIZES="256 4096 16384 65536 262144"; BATCH=65536; REPEATS=3
  AGENTS="1 8 64 256 1024"; AGENT_STEPS=2560
  # notebook 08's sweep on the device, three seeds per N (it resumes: rerun the script to finish what a call's time
  # limit cut off); the verdict table reads figures/scaling_cuda.json when it is there
  SCALING=(--envs 16 256 1024 4096 --step-envs 1 256 4096 65536 1048576 --seeds 3 --agents 1 16 64 256)
fi
# 1. env steps/s against N: torch envs on the device (gymnasium's SyncVectorEnv on the host up to 4,096 envs)
python3 bench/bench_env_step.py --device "$DEVICE" --sizes $STEP_SIZES --repeats "$REPEATS"
python3 bench/bench_env_step.py --device "$DEVICE" --sizes $COMPILE_SIZES --repeats "$REPEATS" --gym-max-n 0 --compile || echo "compiled step failed (see above)"
# 2. full PPO training env steps/s against N (rollout + GAE + update)
python3 bench/bench_train_throughput.py --device "$DEVICE" --sizes $TRAIN_SIZES
# 3. one gradient step: torch Adam against FlatAdam, and trainer.update, on a large batch
python3 bench/bench_update_step.py --device "$DEVICE" --batch "$BATCH" --steps 100 --repeats "$REPEATS"
# 4. K agents batched against K sequential runs, every run timed
python3 bench/bench_batched.py --device "$DEVICE" --ks $AGENTS --steps "$AGENT_STEPS" --out "$RESULTS/batched_$DEVICE.md"
# 5. notebook 08's scaling sweep on the device: time and samples to 475, return at a fixed budget, against N
SCALING_DIR="figures"; [[ "${QUICK:-0}" == 1 ]] && SCALING_DIR="$RESULTS"
python3 -m ppo_lite.experiments scaling --device "$DEVICE" --name "scaling_$DEVICE" --outdir "$SCALING_DIR" --no-progress "${SCALING[@]}"
if [[ -n "${OUT:-}" ]]; then
  cp "$RESULTS"/*_"$DEVICE"*.md "$OUT"/ 2>/dev/null || true
  cp "$SCALING_DIR"/scaling_"$DEVICE".* "$OUT"/ 2>/dev/null || true
fi
