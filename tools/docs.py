"""Run the notebooks and process them for the documentation site, everything up to Quarto's render, explorer included.

The notebooks in git carry no outputs; the pages show what the current code draws because this runs every
notebook (tools/run_nb.py: nbdev_test's rules and flags) into build/docs_nbs/ with its outputs, and fails on a
failing cell -- in the test command this is the notebook test step. Notebooks run as many at once as the machine
has free cores (its available CPUs less what other processes used in the last 10 s), each with one torch thread (training is
bitwise reproducible only at a fixed thread count, and tests compare the notebooks' runs with the shared one),
each under a hang guard (--hang-limit, an order of magnitude above the slowest notebook's quiet time) that names
the cell it hung in; the time of each notebook is printed. The demo run the notebooks share read-only
(`vessnb.pipeline.demo_inputs`) is made once, first, and checked unchanged at the end.
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
import argparse, contextlib, importlib, inspect, json, os, shutil, signal, subprocess, sys, tempfile, time
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
ap.add_argument('--n-workers', type=int, default=None, help='at most this many notebooks at once (default: the CPUs available; fewer while the machine is busy)')
ap.add_argument('--cell-times', default=None, help="a folder: each notebook's cell times go there (NAME.json, the slowest first)")
ap.add_argument('--hang-limit', type=float, default=3600, help='a notebook still running after this many seconds is taken as hung, stopped and named')
args = ap.parse_args()
cfg = get_config()
root, nbs = cfg.config_path, cfg.nbs_path
cache = root/'_proc'

def available_cpus() -> int:
    "CPUs this process may use: its affinity mask, capped by a cgroup (v2) CPU quota."
    n = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1
    try:
        quota, period = Path('/sys/fs/cgroup/cpu.max').read_text().split()
        if quota != 'max': n = min(n, max(1, int(quota) // int(period)))
    except (OSError, ValueError): pass
    return n

class CpuWatch:
    "Cores the rest of the machine is using: CPU time (/proc) of every process less ours (this one, its children and reaped ones), over the last 10 s."
    def __init__(self): self.samples = [self.sample()]
    @staticmethod
    def sample():
        with open('/proc/stat') as f: v = [int(x) for x in f.readline().split()[1:]]
        procs = {}
        for d in filter(str.isdigit, os.listdir('/proc')):
            try:
                with open(f'/proc/{d}/stat') as f: st = f.read().rsplit(')', 1)[1].split()
            except OSError: continue
            procs[int(d)] = (int(st[1]), sum(map(int, st[11:15])))       # parent, utime+stime+cutime+cstime
        ours, grew = {os.getpid()}, True
        while grew:
            new = {p for p, (pp, _) in procs.items() if pp in ours and p not in ours}; ours |= new; grew = bool(new)
        return time.time(), sum(v) - v[3] - v[4], sum(procs[p][1] for p in ours if p in procs)   # busy = all but idle, iowait
    def others(self) -> float:
        self.samples = [x for x in self.samples if x[0] > time.time() - 10] + [self.sample()]
        (t0, b0, o0), (t1, b1, o1) = self.samples[0], self.samples[-1]
        return max(0.0, ((b1 - b0) - (o1 - o0)) / os.sysconf('SC_CLK_TCK') / max(t1 - t0, 1e-3))

def slots(watch:CpuWatch) -> tuple[int, float]:
    "How many notebooks may run now (the cores others leave free, at least 1), and the cores others use."
    others = watch.others()
    return max(1, min(args.n_workers or available_cpus(), int(available_cpus() - others + 0.5))), others

def current_cell(status:Path) -> str:
    try: return status.read_text().strip()
    except OSError: return 'before its first cell'

with tempfile.TemporaryDirectory(prefix='vessnb-docs-') as work:
    work = Path(work)
    # 1. the demo run that every notebook shares read-only (vessnb.pipeline.demo_inputs), made once
    from vessnb.config import RunConfig
    from vessnb.core import hash_files
    from vessnb.pipeline import run_pipeline, DEMO_RUN_ENV
    t = time.time()
    demo = work/'demo-run'
    run_pipeline(RunConfig.preset('docs', run_dir=str(demo), threads=1))   # one thread, as in the notebooks: the same weights
    demo_digest = hash_files([demo], base=demo)
    os.environ[DEMO_RUN_ENV] = str(demo)
    print(f'shared demo run (docs preset) made in {time.time() - t:.0f} s: {demo}', flush=True)

    # 2. the explorer the site publishes
    site = nbs/'explorer'
    shutil.rmtree(site, ignore_errors=True); shutil.rmtree(cache/'explorer', ignore_errors=True)
    from vessnb.explorer import write_explorer, screenshot_explorer, find_browser, explorer_files
    run = Path(args.run) if args.run else root/'runs'/'default'
    if (run/'jacobians.zarr').exists():
        write_explorer(run, out=site)
        print(f'site explorer: written from {run}/jacobians.zarr')
    elif args.run: sys.exit(f'--run {run}: no jacobians.zarr there (run `vessnb run --run-dir {run}` first)')
    else:
        write_explorer(demo, out=site)
        print('site explorer: the shared demo run (no runs/default; `make docs` uses the make run folder)')

    # 3. nbdev's processing
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__(path=nbs)

    # 4. every notebook run, with its outputs, into build/docs_nbs (a copy of nbs/: the site's files come along); as many
    # at once as there are free cores (one torch thread each when they share them), each under a hang guard that names
    # the cell it hung in
    src = nbs
    if not args.no_execute:
        src = root/'build'/'docs_nbs'
        shutil.rmtree(src, ignore_errors=True); shutil.copytree(nbs, src)
        times_file = root/'build'/'notebook_seconds.json'                      # the last run's times, to start the longest first
        typical = Path(__file__).with_name('notebook_seconds.json')            # else the times of a quiet CI run (a fresh clone)
        last = json.loads((times_file if times_file.exists() else typical).read_text()) if times_file.exists() or typical.exists() else {}
        todo = sorted(nbs.glob('*.ipynb'), key=lambda p: -last.get(p.name, p.stat().st_size / 1e3))   # else the largest first
        running, failed, took, t0, said, watch = [], [], {}, time.time(), None, CpuWatch()
        time.sleep(2)                                                          # a first measurement of what others use
        def start(nb):
            status = work/f'{nb.stem}.cell'
            env = dict(os.environ, OMP_NUM_THREADS='1')   # one torch thread: cores are shared, and results equal the demo run's
            p = subprocess.Popen([sys.executable, str(root/'tools'/'run_nb.py'), str(nb), str(src/nb.name), '--flags', args.flags,
                                  '--status', str(status)] + (['--times', f'{args.cell_times}/{nb.stem}.json'] if args.cell_times else []),
                                 env=env, start_new_session=True)
            return nb, time.time(), p, status
        def stop_all(*_):
            for r in running:
                with contextlib.suppress(ProcessLookupError): os.killpg(r[2].pid, signal.SIGKILL)
            sys.exit('notebooks stopped: interrupted')
        signal.signal(signal.SIGTERM, stop_all); signal.signal(signal.SIGINT, stop_all)
        while todo or running:
            n, others = slots(watch)
            if todo and len(running) < n:
                if n != said:
                    print(f'{available_cpus()} CPUs, {others:.1f} of them busy with other work: up to {n} notebook(s) at once',
                          flush=True); said = n
                running.append(start(todo.pop(0)))
            time.sleep(0.5)
            for r in list(running):
                nb, t1, p, status = r
                if p.poll() is None and time.time() - t1 > args.hang_limit:
                    os.killpg(p.pid, signal.SIGKILL); p.wait()
                    print(f'HUNG: {nb.name} ran longer than {args.hang_limit:.0f} s (a hang guard, not a time limit), '
                          f'in {current_cell(status)}', flush=True)
                if p.poll() is not None:
                    running.remove(r); took[nb.name] = time.time() - t1
                    if p.returncode: failed.append(nb.name); print(f'FAILED: {nb.name} ({took[nb.name]:.0f} s)', flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL); signal.signal(signal.SIGINT, signal.default_int_handler)
        print(f'ran {len(took)} notebooks (flags: {args.flags or "none"}) in {time.time() - t0:.0f} s; each, in seconds: '
              + ', '.join(f'{k} {v:.0f}' for k, v in sorted(took.items(), key=lambda kv: -kv[1])), flush=True)
        times_file.write_text(json.dumps({k: round(v, 1) for k, v in took.items()}, indent=1))
        if failed: sys.exit(f'notebooks failed: {failed}')
    if hash_files([demo], base=demo) != demo_digest:
        sys.exit(f'the shared demo run changed while the notebooks ran: a notebook wrote into ${DEMO_RUN_ENV} (it is read-only)')
cache = Path(proc_nbs(src, n_workers=0, force=True))   # force: a stale cache once hid a failing page

# 5. checks
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
