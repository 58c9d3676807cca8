"""Process the notebooks for the documentation site, everything up to Quarto's render, explorer included.

`nbdev_docs`/`nbdev_proc_nbs` first try to download Quarto, which these machines cannot do; this runs the same
nbdev steps without that: refresh nbs/nbdev.yml, the symbol index and sidebar, then nbdev's notebook processors
(show_doc, directives, frontmatter) into _proc/. Before that it writes an explorer into nbs/explorer/ (ignored by
git; Quarto copies it into the site as a resource, see nbs/_quarto.yml) from the Jacobian store of `--run DIR`,
else of runs/default when a `make run` folder exists, else of a tiny demo run. It fails if a notebook does not
process, a page or an explorer file is missing, a public function or class of a module has no API entry on its
page, or the site's explorer does not open in a browser it can find.

    python tools/docs.py [--run RUN_DIR]
"""
import argparse, importlib, inspect, json, shutil, sys, tempfile
import yaml
from pathlib import Path
from nbdev.config import get_config
from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
from nbdev.serve import proc_nbs
import nbdev.doclinks

ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
ap.add_argument('--run', default=None, help='run folder whose explorer the site shows (default: runs/default, else a demo)')
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
cache = Path(proc_nbs(nbs, n_workers=0, force=True))   # force: a stale cache once hid a failing page

# 3. checks
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
no_entry = {}
for n in names:
    nb, mod = json.loads((cache/n).read_text()), _default_exp(json.loads((nbs/n).read_text()))   # the source names the module
    if mod is None: continue
    m = importlib.import_module(f'vessnb.{mod}')
    public = [k for k in m.__all__ if inspect.isclass(getattr(m, k)) or inspect.isfunction(getattr(m, k))]
    text = _markdown_outputs(nb)
    lacking = [k for k in public if f'### {k}\n' not in text]
    print(f'{n}: {len(public) - len(lacking)} of {len(public)} public names have an API entry')
    if lacking: no_entry[n] = lacking
if no_entry: sys.exit(f'public names without an API entry in _proc/: {no_entry}')
if 'explorer/**' not in (yaml.safe_load((cache/'_quarto.yml').read_text())['project'].get('resources') or []):
    sys.exit('_quarto.yml does not list explorer/** under project resources: Quarto would leave the explorer out')
for page in ('index.ipynb', '07_explorer.ipynb'):
    if 'explorer/index.html' not in (cache/page).read_text(): sys.exit(f'{page} does not link to explorer/index.html')
if find_browser(): print(f'site explorer not opened in a browser: {find_browser()}')
else:
    with tempfile.TemporaryDirectory() as d: screenshot_explorer(cache/'explorer'/'index.html', Path(d)/'site.png')
    print('site explorer opens in headless Chromium')
print(f'processed {len(names)} notebooks and the explorer into {cache}: ready for `quarto render`')
