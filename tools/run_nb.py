"""Run one notebook as `nbdev_test` runs it (the same skipped flags, the same working folder) and save it with its
outputs, for the documentation pages. Exit status 1, with the failing cell's traceback, when a cell fails.

    python tools/run_nb.py SRC DST [--flags "slow real"] [--times FILE] [--status FILE]
"""
import argparse, json, os, sys, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.process import extract_directives

ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
ap.add_argument('src'); ap.add_argument('dst')
ap.add_argument('--flags', default='', help="test flags to run (settings.ini's tst_flags are skipped otherwise)")
ap.add_argument('--times', default=None, help="write each executed cell's seconds here (JSON, the slowest first)")
ap.add_argument('--status', default=None, help='keep the number and first line of the cell running now in this file')
args = ap.parse_args()
src, dst = Path(args.src).resolve(), Path(args.dst).resolve()
os.environ['IN_TEST'] = '1'
skip = set(get_config().tst_flags.split()) - set(args.flags.split())
nb = read_nb(src)
for c in nb.cells: c.directives_ = extract_directives(c, remove=False) if c.cell_type == 'code' else {}

def no_eval(c):   # nbdev_test's rule: markdown, nbdev_export calls, `#| eval: false` and skipped flags do not run
    if c.cell_type != 'code' or 'nbdev_export' + '(' in c.source: return True
    if c.directives_.get('eval:', [''])[0].lower() == 'false': return True
    return bool(skip & c.directives_.keys())

sys.path.insert(0, str(get_config().config_path))
shell, t = CaptureShell(src), time.time()
times, last = [], [time.time()]
def skip_or_start(c):
    last[0] = time.time()
    if args.status and not no_eval(c): Path(args.status).write_text(f'cell {c.idx_} ({c.source.splitlines()[0][:80]!r})')
    return no_eval(c)
def done(c):
    times.append((round(time.time() - last[0], 2), c.idx_, c.source[:200]))
try:
    with working_directory(src.parent): shell.run_all(nb, exc_stop=True, preproc=skip_or_start, postproc=done)
except Exception:
    sys.stderr.write(shell.prettytb(fname=src) + '\n'); sys.exit(1)
dst.parent.mkdir(parents=True, exist_ok=True)
write_nb(nb, dst)
print(f'{src.name}: ran in {time.time() - t:.0f} s')
if args.times:   # [seconds, cell number, its source's start], the slowest first
    Path(args.times).write_text(json.dumps(sorted(times, reverse=True), indent=0))
