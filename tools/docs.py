"""Run the notebooks and process them for the documentation site, everything up to Quarto's render, explorer included.

The notebooks in git carry no outputs; the pages show what the current code draws because this runs every
notebook (tools/run_nb.py: nbdev_test's rules and flags, two at a time, one torch thread each) into build/docs_nbs/
with its outputs, and fails on a failing cell -- in the test command this is the notebook test step.
`nbdev_docs`/`nbdev_proc_nbs` first try to download Quarto, which these machines cannot do; this runs the same
nbdev steps without that: refresh nbs/nbdev.yml, the symbol index and sidebar, then nbdev's notebook processors
(show_doc, directives, frontmatter) on the executed notebooks into _proc/. Before that it writes an explorer into nbs/explorer/ (ignored by
git; Quarto copies it into the site as a resource, see nbs/_quarto.yml) from the Jacobian store of `--run DIR`,
else of runs/default when a `make run` folder exists, else of a tiny demo run. It fails if a notebook does not
process, a page or an explorer file is missing, a public function or class of a module has no API entry on its
page, a page whose module draws figures (imports matplotlib.pyplot) shows none, or the site's explorer does not
open in a browser it can find.

    python tools/docs.py [--run RUN_DIR] [--flags "slow real"] [--no-execute]
"""
import argparse, importlib, inspect, json, os, shutil, subprocess, sys, tempfile, time
import yaml
import matplotlib.pyplot
from pathlib import Path
from nbdev.config import get_config
from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
from nbdev.serve import proc_nbs
import nbdev.doclinks

ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
ap.add_argument('--run', default=None, help='run folder whose explorer the site shows (default: runs/default, else a demo)')
ap.add_argument('--flags', default='', help='test flags whose cells run too (as nbdev_test --flags)')
ap.add_argument('--no-execute', action='store_true', help='process the notebooks as they are, without running them (pages without figures)')
ap.add_argument('--n-workers', type=int, default=2, help='notebooks run at once (each with one torch thread)')
args = ap.parse_args()
cfg = get_config()
root, nbs = cfg.config_path, cfg.nbs_path
cache = root/'_proc'

# 1. the explorer the site publishes
site = nbs/'explorer'
shutil.rmtree(site, ignore_errors=True); shutil.rmtree(cache/'explorer', ignore_errors=True)
from vessnb.explorer import tiny_run, write_explorer, screenshot_explorer, find_browser, explorer_files
run = Path(args.run) if args.run else root/'runs'/'default'
if (run/'jacobians.zarr').exists():
    write_explorer(run, out=site)
    print(f'site explorer: written from {run}/jacobians.zarr')
elif args.run: sys.exit(f'--run {run}: no jacobians.zarr there (run `vessnb run --run-dir {run}` first)')
else:
    with tempfile.TemporaryDirectory() as d: write_explorer(tiny_run(Path(d)/'demo'), out=site)
    print('site explorer: a tiny demo run (no runs/default; `make docs` uses the make run folder)')

# 2. nbdev's processing
refresh_quarto_yml()
nbdev.doclinks._build_modidx()
nbdev_sidebar.__wrapped__(path=nbs)

# 3. every notebook run, with its outputs, into build/docs_nbs (a copy of nbs/: the site's files come along)
src = nbs
if not args.no_execute:
    src = root/'build'/'docs_nbs'
    shutil.rmtree(src, ignore_errors=True); shutil.copytree(nbs, src)
    todo = sorted(nbs.glob('*.ipynb'), key=lambda p: -p.stat().st_size)      # the largest first: less idle time at the end
    env = dict(os.environ, OMP_NUM_THREADS='1')                                # two at once on two cores: one thread each
    running, failed, t0 = [], [], time.time()
    def start(nb): return nb, time.time(), subprocess.Popen([sys.executable, str(root/'tools'/'run_nb.py'), str(nb), str(src/nb.name), '--flags', args.flags], env=env)
    while todo or running:
        while todo and len(running) < args.n_workers: running.append(start(todo.pop(0)))
        time.sleep(0.2)
        for r in [r for r in running if r[2].poll() is not None]:
            running.remove(r)
            if r[2].returncode: failed.append(r[0].name); print(f'FAILED: {r[0].name} ({time.time() - r[1]:.0f} s)', flush=True)
    print(f'ran {len(list(nbs.glob("*.ipynb")))} notebooks (flags: {args.flags or "none"}) in {time.time() - t0:.0f} s', flush=True)
    if failed: sys.exit(f'notebooks failed: {failed}')
cache = Path(proc_nbs(src, n_workers=0, force=True))   # force: a stale cache once hid a failing page

# 4. checks
names = sorted(p.name for p in nbs.glob('*.ipynb'))
missing = [n for n in names if not (cache/n).exists()]
missing += [f for f in ('_quarto.yml', 'nbdev.yml', 'sidebar.yml', 'styles.css') if not (cache/f).exists()]
missing += [f'explorer/{f}' for f in explorer_files(site) if not (cache/'explorer'/f).exists()]
if missing: sys.exit(f'docs processing did not produce: {missing}')

def _default_exp(nb):
    for c in nb['cells']:
        for line in ''.join(c['source']).splitlines():
            if line.startswith('#| default_exp'): return line.split()[-1]

def _markdown_outputs(nb):
    return '\n'.join(''.join(o.get('data', {}).get('text/markdown', '')) for c in nb['cells'] for o in c.get('outputs', []))

# every public function and class of a module has an API entry on its page (nbdev's show_doc output)
no_entry, no_figures = {}, []
for n in names:
    nb, mod = json.loads((cache/n).read_text()), _default_exp(json.loads((nbs/n).read_text()))   # the source names the module
    if mod is None: continue
    m = importlib.import_module(f'vessnb.{mod}')
    public = [k for k in m.__all__ if inspect.isclass(getattr(m, k)) or inspect.isfunction(getattr(m, k))]
    text = _markdown_outputs(nb)
    lacking = [k for k in public if f'### {k}\n' not in text]
    figures = sum('image/png' in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', []))
    draws = getattr(m, 'plt', None) is matplotlib.pyplot
    print(f'{n}: {len(public) - len(lacking)} of {len(public)} public names have an API entry; {figures} figures'
          + (' (its module draws figures)' if draws else ''))
    if lacking: no_entry[n] = lacking
    if draws and not figures and not args.no_execute: no_figures.append(n)
if no_entry: sys.exit(f'public names without an API entry in _proc/: {no_entry}')
if no_figures: sys.exit(f'pages whose module draws figures but which show none: {no_figures}')
if 'explorer/**' not in (yaml.safe_load((cache/'_quarto.yml').read_text())['project'].get('resources') or []):
    sys.exit('_quarto.yml does not list explorer/** under project resources: Quarto would leave the explorer out')
for page in ('index.ipynb', '07_explorer.ipynb'):
    if 'explorer/index.html' not in (cache/page).read_text(): sys.exit(f'{page} does not link to explorer/index.html')
if find_browser(): print(f'site explorer not opened in a browser: {find_browser()}')
else:
    with tempfile.TemporaryDirectory() as d: screenshot_explorer(cache/'explorer'/'index.html', Path(d)/'site.png')
    print('site explorer opens in headless Chromium')
print(f'processed {len(names)} notebooks and the explorer into {cache}: ready for `quarto render`')
