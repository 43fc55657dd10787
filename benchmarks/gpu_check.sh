#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU where JAX (and PyTorch) are installed and
# TensorFlow may not be: a short sweep on the GPU under Keras's JAX backend, then samples
# per second, the device name, and whether XLA and mixed precision were used.
# At most about 8 minutes. Usage, from the repository root:
#   bash benchmarks/gpu_check.sh [results_dir]
# DLKIT_GPU_CHECK_DEVICE=auto runs the same steps where no GPU is present (a dry run);
# DLKIT_GPU_CHECK_EPOCHS (default 5) sets both parts' epochs (the tests' dry run uses 2).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-/tmp}/gpu_check}
device=${DLKIT_GPU_CHECK_DEVICE:-gpu}
epochs=${DLKIT_GPU_CHECK_EPOCHS:-5}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1

missing=$(python3 - <<'PY'
import importlib.util
need = ["jax", "keras", "hydra", "omegaconf", "pandas", "sklearn", "scipy", "matplotlib",
        "yaml", "tabulate"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
PY
)
if [ -n "$missing" ]; then
  echo "gpu_check: missing Python packages: $missing (install them, e.g. from wheels)" >&2
  exit 2
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi -L 2>/dev/null || echo "gpu_check: nvidia-smi not found"
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"

start=$(date +%s)
timeout 240 python3 -m experiments.run -m backend=jax trainer.device="$device" \
  trainer.precision=mixed_bfloat16 trainer.jit_compile=true model=lenet5_modern \
  dataset=digits dataset.image_size=32 trainer.batch_size=128 trainer.epochs="$epochs" seed=0,1 \
  results_dir="$out" trainer.resume=false trainer.verbose=false
echo "sweep wall time: $(( $(date +%s) - start )) s"

# many small runs at once: the 16-run tuning sweep of the default MLP (4 seeds x 4 rates),
# one run at a time against one pack (hydra/sweeper=packed), runs per minute side by side
timeout 420 python3 -m benchmarks.sweeps --sweep rates --epochs "$epochs" --ways basic-jax,packed-jax \
  --override trainer.device="$device"

python3 - "$out" <<'PY'
import json, sys
from pathlib import Path
import pandas as pd
for path in sorted(Path(sys.argv[1]).rglob("result.json")):
    result = json.loads(path.read_text())
    history = pd.read_csv(path.parent / "history.csv")
    steady = history["epoch_time_s"].iloc[1:] if len(history) > 1 else history["epoch_time_s"]
    rate = result["data"]["train"] / steady.median()
    trainer = result["config"]["trainer"]
    print(f"{result['run_id']}: {result['status']}, test_accuracy "
          f"{result['metrics'].get('test_accuracy', float('nan')):.4f}, "
          f"{rate:.0f} samples/s (median epoch after the first), device "
          f"{result['hardware']['gpus'] or ['cpu']}, backend "
          f"{result['versions']['keras_backend']}, XLA jit_compile={trainer['jit_compile']}, "
          f"precision={trainer['precision']}")
PY
