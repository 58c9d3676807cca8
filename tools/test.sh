#!/usr/bin/env bash
# The project's test command (`make test` calls it with the virtual environment first on PATH).
# Each step prints its result and how long it took; then a line with how many steps passed and failed, and last the
# total time. Load-proof: no step has a limit that a busy machine can reach before a hung test would (the guards
# below are hang guards, an order of magnitude above the quiet times in BENCHMARKS.md, and they name what hung).
# Nothing left behind: every test writes below one temporary folder ($TMPDIR for everything this suite starts,
# Jupyter kernels' connection files included) that is removed at the end, pass or fail; the suite fails if anything
# new appeared in the machine's temporary folder meanwhile.
set -uo pipefail
cd "$(dirname "$0")/.."
t_start=$SECONDS
host_tmp=${TMPDIR:-/tmp}
suite=$(mktemp -d "$host_tmp/vessnb-test.XXXXXX") || exit 1
# what Python's tempfile, Jupyter kernels, Dask, torch, multiprocessing, pip, matplotlib, Chromium and vessnb name
# their temporary files and folders (the check at the end fails on any of these that the suite left behind)
OUR_TMP_NAMES='tmp*|vessnb*|kernel-*|*.ipynb|dask-*|torchinductor_*|pymp-*|pip-*|matplotlib*|jupyter*|ipykernel*|playwright*|.org.chromium.*|.com.google.*|chromium*|core*'
shopt -s extglob
tmp_listing() { ls -A "$host_tmp" | grep -vx "$(basename "$suite")" | sort; }
tmp_before=$(tmp_listing)
finish() {  # runs on every exit: remove the suite's folder, then say what (if anything) was left in $host_tmp
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n ${wheel_pid:-} ]]; then kill -- -"$wheel_pid" 2>/dev/null; wait "$wheel_pid" 2>/dev/null; fi   # a wheel check still running
  rm -rf "$suite"
  local new mine=() others=() e
  new=$(comm -13 <(echo "$tmp_before") <(tmp_listing))
  while IFS= read -r e; do   # ours: made by this user, named as what the suite's tools make (the rest is another program's)
    [[ -z $e ]] && continue
    if [[ -O "$host_tmp/$e" && $e == @($OUR_TMP_NAMES) ]]; then mine+=("$e"); else others+=("$e"); fi
  done <<< "$new"
  if ((${#others[@]})); then echo "new in $host_tmp meanwhile, not named as this suite's (another program's?): ${others[*]:0:10}"; fi
  if ((${#mine[@]})); then
    echo "FAILED: the suite left new entries in $host_tmp:"; printf '  %s\n' "${mine[@]:0:20}"
    rc=1
  else echo "nothing left in $host_tmp"; fi
  echo "make test: total time $((SECONDS - t_start)) s"
  exit $rc
}
trap finish EXIT
trap 'echo "make test: interrupted"; exit 130' INT
trap 'echo "make test: terminated"; exit 143' TERM
export TMPDIR="$suite/tmp" JUPYTER_RUNTIME_DIR="$suite/jupyter-runtime" MPLCONFIGDIR="$suite/matplotlib"
mkdir -p "$TMPDIR" "$JUPYTER_RUNTIME_DIR" "$MPLCONFIGDIR"

passed=0; failed=0; failures=()
step() {  # step NAME COMMAND...
  local name=$1; shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then passed=$((passed+1)); echo "--- ok: $name ($((SECONDS-t0)) s)"
  else failed=$((failed+1)); failures+=("$name"); echo "--- FAILED: $name ($((SECONDS-t0)) s)"; fi
}
unchanged() {  # unchanged DIR... : run the command after `--`, fail if it changed files under DIR
  local dirs=() ; while [[ $1 != -- ]]; do dirs+=("$1"); shift; done; shift
  local before after
  before=$(find "${dirs[@]}" -type f -not -path '*/__pycache__/*' -exec sha1sum {} + | sort)
  "$@" || return 1
  after=$(find "${dirs[@]}" -type f -not -path '*/__pycache__/*' -exec sha1sum {} + | sort)
  if [[ "$before" != "$after" ]]; then
    echo "$* changed files (commit its result):"; diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -20
    return 1
  fi
}
hang_guard() {  # hang_guard SECONDS WHAT COMMAND... : a limit only a hang reaches; says what hung
  local limit=$1 what=$2; shift 2
  timeout "$limit" "$@"; local rc=$?
  if ((rc == 124)); then echo "HUNG: $what ran longer than $limit s (a hang guard, not a time limit: quiet runs take minutes)"; fi
  return $rc
}
step "nbdev_export leaves vessnb/ unchanged" unchanged vessnb -- nbdev_export
step "nbdev_clean leaves nbs/ unchanged" unchanged nbs -- nbdev_clean
step "README.md is generated from nbs/index.ipynb" python tools/readme.py --check
browser() {  # the explorer's browser test needs Debian's chromium; install it where we can (CI runs as root)
  [[ -x /usr/bin/chromium ]] && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 ||
      echo "could not install chromium: the explorer's browser test will say it is skipped"
  else echo "no chromium and no root apt-get: the explorer's browser test will say it is skipped"; fi
  return 0
}
step "browser for the explorer test (chromium)" browser
# The wheel check builds, installs and runs the package in a folder and a venv of its own (its `vessnb run` is the
# smoke run of the whole pipeline, checked by tools/check_run.py), mostly pip on one core: it starts now and runs
# beside the notebooks (their scheduler sees the core it uses), and is reported last.
wheel_name="wheel in a fresh venv, run from another folder (beside the notebooks)"
t_wheel=$SECONDS
set -m; ( hang_guard 3600 "the wheel check" bash tools/wheel_check.sh > "$suite/wheel.log" 2>&1; echo $? > "$suite/wheel.rc" ) &
wheel_pid=$!; set +m
wheel_step() {
  wait "$wheel_pid"; wheel_pid=
  cat "$suite/wheel.log"; return "$(cat "$suite/wheel.rc" 2>/dev/null || echo 1)"
}
# The real VessMap copy: $VESSNB_VESSMAP (the name vessnb.data.VESSMAP_ENV owns), else ../shared/vessmap beside the
# clone. When there is one, the cells flagged `real` run (and fail, not skip, if the copy cannot be read).
if [[ -z ${VESSNB_VESSMAP:-} && -d ../shared/vessmap/images ]]; then export VESSNB_VESSMAP="$(cd ../shared/vessmap && pwd)"; fi
flags="slow"
real_cells=$(grep -o '"#| real' nbs/*.ipynb | wc -l)
if [[ -n ${VESSNB_VESSMAP:-} ]]; then flags="slow real"; fi
# every notebook runs once, by nbdev_test's rules (tools/run_nb.py), as many at once as the machine has free cores
# (one torch thread each when they share them), each under its own hang guard; the shared demo run is made once
# first. The executed notebooks, with their figures, are what tools/docs.py processes for the pages.
step "notebooks run (nbdev_test's rules, flags: $flags) and processed for the docs" python tools/docs.py --flags "$flags"
if [[ $flags == *real* ]]; then echo "real-data tests: $real_cells cells flagged real ran on $VESSNB_VESSMAP"
else echo "real-data tests: 0 of $real_cells cells flagged real ran (no VessMap copy: set VESSNB_VESSMAP)"; fi
step "$wheel_name (started $((SECONDS - t_wheel)) s ago)" wheel_step
echo
if ((failed)); then printf 'failed step: %s\n' "${failures[@]}"; fi
echo "steps: $passed passed, $failed failed"
((failed == 0))
