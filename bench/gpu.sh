#!/usr/bin/env bash
# One-shot GPU session: vessnb's exactness checks on CUDA (bench/gpu_check.py) and the Jacobian benchmark
# (bench/jacobian.py), for a machine without network access and without vessnb installed.
#
#   bash bench/gpu.sh                     # from the repository root; writes into ${OUT:-bench/out/gpu}
#   GPU_SH_DRYRUN=1 bash bench/gpu.sh     # the same steps on the CPU with a tiny model and tiny images (a test)
# Other settings: GPU_SH_PYTHON (default python3), GPU_SH_SITE (default /tmp/site), GPU_SH_BUDGET (seconds, default
# 450), GPU_SH_NO_WHEELS=1 (use the installed packages even if .whl/ exists).
#
# Wheels in .whl/ (zarr and what it needs that the machine lacks, fastcore) are installed with --target into
# $GPU_SH_SITE (default /tmp/site) and put on PYTHONPATH with the repository root. Each step has its own timeout and
# the whole script a time budget (GPU_SH_BUDGET seconds, default 450): a step that would start with less than
# its minimum left is skipped, later steps get what remains. One step failing does not stop the others; the exit
# status is 1 if any step failed or was skipped. Everything printed also goes to $OUT/gpu.log.
set -u
OUT="${OUT:-bench/out/gpu}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu.log") 2>&1
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg MPLCONFIGDIR="${TMPDIR:-/tmp}/gpu_sh_mpl"
PY="${GPU_SH_PYTHON:-python3}"
SITE="${GPU_SH_SITE:-/tmp/site}"
BUDGET="${GPU_SH_BUDGET:-450}"
DRY="${GPU_SH_DRYRUN:-0}"
START=$(date +%s.%N)
FAILED=()

elapsed() { echo "$(date +%s.%N) $START" | awk '{printf "%.1f", $1 - $2}'; }
left() { echo "$(date +%s.%N) $START $BUDGET" | awk '{printf "%d", $3 - ($1 - $2)}'; }

# step NAME MAX_SECONDS MIN_SECONDS LOG CMD...: run CMD under `timeout min(MAX, budget left)` (its output also appended
# to LOG unless LOG is -), unless less than MIN seconds of the budget are left.
step() {
    local name=$1 max=$2 min=$3 log=$4; shift 4
    local l; l=$(left)
    local lim=$(( l < max ? l : max ))
    echo
    echo "=== step $name: $* (timeout $lim s; $(elapsed) s elapsed, $l s of the budget left)"
    if (( l < min )); then echo "=== step $name: SKIPPED (less than $min s of the budget left)"; FAILED+=("$name(skipped)"); return; fi
    local t0 rc; t0=$(date +%s.%N)
    if [ "$log" = - ]; then timeout -k 15 $lim "$@"; rc=$?
    else timeout -k 15 $lim "$@" | tee -a "$log"; rc=${PIPESTATUS[0]}; fi
    local dt; dt=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
    if (( rc == 124 || rc == 137 )); then echo "=== step $name: TIMEOUT after $dt s"; FAILED+=("$name(timeout)")
    elif (( rc != 0 )); then echo "=== step $name: FAILED (exit $rc) after $dt s"; FAILED+=("$name(exit $rc)")
    else echo "=== step $name: ok in $dt s"; fi
}

echo "=== gpu.sh $(date -u +%FT%TZ) in $PWD, OUT=$OUT, budget $BUDGET s, dry run $DRY"
git log -1 --format='commit %H %s' 2>/dev/null; git status --short 2>/dev/null | head -20

# 1. wheels and environment
if [ "${GPU_SH_NO_WHEELS:-0}" != 1 ] && compgen -G '.whl/*.whl' > /dev/null; then
    t0=$(date +%s)
    if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl; then
        echo "pip install failed: unpacking the wheels with zipfile instead"
        "$PY" -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' "$SITE" .whl/*.whl
    fi
    # fallbacks, only for what the machine lacks or has too old (zarr needs typing-extensions>=4.12, packaging>=22)
    extra=$("$PY" - <<'EOF'
import glob, importlib.metadata as md, re
def ver(name):
    try: return tuple(int(x) for x in re.findall(r'\d+', md.version(name))[:3])
    except md.PackageNotFoundError: return None
need = {'typing_extensions': (4, 12), 'packaging': (22,)}
for name, low in need.items():
    v = ver(name)
    if v is None or v < low: print(' '.join(glob.glob(f'.whl/fallback/{name}-*.whl')))
EOF
)
    if [ -n "${extra// /}" ]; then
        echo "installing fallback wheels: $extra"
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" $extra \
          || "$PY" -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' "$SITE" $extra
    fi
    export PYTHONPATH="$SITE:$PWD"
    echo "wheels installed into $SITE in $(( $(date +%s) - t0 )) s"
else
    export PYTHONPATH="$PWD"
    echo "no .whl/ folder (or GPU_SH_NO_WHEELS=1): using the installed packages"
fi
nvidia-smi -L 2>&1 || echo "(no nvidia-smi)"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 | head -3 || true
"$PY" - <<'EOF' || FAILED+=("imports")
import sys, importlib
print('python', sys.version.split()[0], sys.executable)
try:
    import torch
    print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(),
          torch.cuda.get_device_name() if torch.cuda.is_available() else '')
except Exception as e: print('torch IMPORT FAILED:', type(e).__name__, e)
for m in ('numpy', 'scipy', 'skimage', 'tifffile', 'PIL', 'matplotlib', 'yaml', 'tqdm', 'typing_extensions', 'packaging',
          'zarr', 'numcodecs', 'donfig', 'google_crc32c', 'fastcore'):
    try:
        mod = importlib.import_module(m)
        print(f'  {m:<18} {getattr(mod, "__version__", "?"):<14} {getattr(mod, "__file__", "")}')
    except Exception as e: print(f'  {m:<18} IMPORT FAILED: {type(e).__name__}: {e}')
import vessnb.jacobian, vessnb.model, vessnb.data, vessnb.threshold
print('vessnb from', vessnb.__file__, '; default precision flags', vessnb.jacobian.precision_flags())
EOF
echo "=== setup done at $(elapsed) s"

# 2.-4. the checks and the benchmarks
if [ "$DRY" = 1 ]; then
    DEV=cpu
    CHECK=(--configs 4:32:full --store 4:32:1 --heads prob --threads 2)
    J64=(--width 4 --sizes 32 --repeats 1 --repeats-orig 1 --threads 2)
    J256S=(--width 4 --sizes 48 --sample 16 --repeats 1 --repeats-orig 1 --threads 2)
    J16=(--width 4 --sizes 24 --repeats 1 --repeats-orig 1 --threads 2)
    J256=(--width 4 --sizes 48 --methods auto --repeats 1 --orig-sample 64 --repeats-orig 1 --eval-rows 64 --threads 2)
    ENGINE=(--widths 4 --sizes 24 --rows 8 --min-rows 4 --orig-rows 4 --chunk 4 --rounds 1 --threads 2)
else
    DEV=cuda
    CHECK=()
    J64=(--width 64 --sizes 64 --repeats 3 --repeats-orig 1)
    # sampled: float64 reference on the 256 sampled rows (+ ~4x256 rows of the sampled colour classes), not the whole image
    J256S=(--width 64 --sizes 256 --sample 256 --repeats 3 --repeats-orig 1)
    J16=(--width 16 --sizes 32 64 --repeats 3 --repeats-orig 1)
    # full: the float64 reference is the whole 256x256 image coloured (15,625 float64 passes, ~0.76 PFLOP), then 'auto'
    # once (the same passes in float32); gets what is left of the budget (at most 300 s), before the cheap width-16 run
    J256=(--width 64 --sizes 256 --methods auto --repeats 1 --orig-sample 1024 --repeats-orig 1 --eval-rows 1024)
    # rows per second of the engine (the way it picks), autograd, the original call and the forward pass, width 64
    ENGINE=(--widths 64 --sizes 64 256 --rows 512 --min-rows 128 --seconds 0.05 --orig-rows 64 --chunk 64 --rounds 3)
fi
BL="$OUT/bench.log"
step gpu_check 180 30 - "$PY" bench/gpu_check.py --device $DEV ${CHECK[@]+"${CHECK[@]}"} --out "$OUT/gpu_check.json"
step jac64 150 30 "$BL" "$PY" bench/jacobian.py --device $DEV "${J64[@]}" --out "$OUT/jac64.json"
step engine 90 30 "$BL" "$PY" bench/engine_speed.py --device $DEV "${ENGINE[@]}" --out "$OUT/engine_speed.json"
step jac256_sampled 120 30 "$BL" "$PY" bench/jacobian.py --device $DEV "${J256S[@]}" --out "$OUT/jac256_sampled.json"
step jac256_full 300 60 "$BL" "$PY" bench/jacobian.py --device $DEV "${J256[@]}" --out "$OUT/jac256.json"
step jac16 90 30 "$BL" "$PY" bench/jacobian.py --device $DEV "${J16[@]}" --out "$OUT/jac16.json"

echo
ls -l "$OUT"
if (( ${#FAILED[@]} )); then echo "=== gpu.sh done in $(elapsed) s; FAILED: ${FAILED[*]}"; exit 1; fi
echo "=== gpu.sh done in $(elapsed) s; all steps ok"
