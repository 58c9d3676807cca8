#!/usr/bin/env bash
# The installed package is enough: a wheel of this tree in a fresh venv that holds only torch==2.13.0 and the wheel
# (with its declared requirements), every command run from a folder that has nothing of the repository in it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
python3 -m pip wheel --no-deps -q -w "$w/dist" "$root" 2>/dev/null
whl=$(ls "$w"/dist/vessnb-*.whl)
python3 -m venv "$w/venv"
v="$w/venv/bin"
"$v/python" -m pip install -q torch==2.13.0 2>/dev/null
"$v/python" -m pip install -q "$whl" 2>/dev/null
"$v/python" -m pip check
mkdir "$w/elsewhere" && cd "$w/elsewhere"
export PATH="$v:$PATH" PYTHONPATH=
"$v/python" -c "import vessnb, sys; assert '$root' not in vessnb.__file__, vessnb.__file__; print('vessnb', vessnb.__version__, 'from', vessnb.__file__)"
vessnb --version
# the whole pipeline with record notebooks (the smoke run): whole 72 x 72 images (--explain-size 0) are more than the
# 4,096 pixels the explorer keeps in one file, so its rows go into band files, which check_run.py looks for
vessnb run --run-dir run --epochs 1 --width 4 --crop 32 --samples-per-epoch 16 --n-synthetic 8 --synthetic-size 72 \
    --explain-size 0 --n-explain 1 --no-progress
"$v/python" "$root/tools/check_run.py" run
"$v/python" - <<'PY'
import numpy as np, tifffile
from PIL import Image
from pathlib import Path
Path('images').mkdir()
rng = np.random.default_rng(0)
tifffile.imwrite('images/field 16bit.tif', (rng.random((40, 40)) * 65535).astype(np.uint16))
Image.fromarray((rng.random((40, 40)) * 255).astype(np.uint8)).save('images/other.png')
PY
vessnb explain --checkpoint run/checkpoints/best.pt --out explained --explain-size 0 --no-progress --no-notebooks images
test -f explained/explorer/index.html && test -f "explained/maps/field 16bit_counts.npy" && test -f explained/maps/other_counts.npy
# other libraries' current lines install beside it (the tool chain is not a runtime requirement)
"$v/python" -m pip install --dry-run "$whl" "nbdev>=3" "fastcore>=2" 2>/dev/null | grep '^Would install' ||
  { echo "wheel check: vessnb does not resolve beside nbdev>=3 and fastcore>=2"; exit 1; }
echo "wheel check: run, explain and resolution with nbdev>=3 / fastcore>=2 all fine"
