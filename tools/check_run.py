"""Check that a pipeline run folder holds what `vessnb run` promises. Usage: python tools/check_run.py RUN_DIR"""
import json, sys
from pathlib import Path

run = Path(sys.argv[1])
problems = []
def need(pattern, what):
    if not list(run.glob(pattern)): problems.append(f'no {what} ({pattern})')
for nb in ('00_data', '02_train', '03_jacobian', '04_threshold', '05_validate', '07_explorer'):
    need(f'notebooks/{nb}.ipynb', f'executed notebook {nb}')
need('checkpoints/best.pt', 'checkpoint')
need('maps/*_counts.npy', 'thresholded counts')
need('maps/*_map.npy', 'normalised influence map')
need('maps/*_map.png', 'influence map figure')
need('figures/*.png', 'figures')
need('explorer/index.html', 'explorer page')
need('summary.json', 'summary')
if (run/'summary.json').exists():
    s = json.loads((run/'summary.json').read_text())
    for k in ('data', 'train', 'jacobian', 'threshold', 'validate', 'explorer'):
        if k not in s: problems.append(f'summary.json has no "{k}" section')
ex = run/'explorer'/'explorer.json'
if ex.exists():   # every file the page may load is there: the data script, each image's script and band files
    meta = json.loads(ex.read_text())
    if not (run/'explorer'/'explorer_data.js').exists(): problems.append('no explorer/explorer_data.js')
    for k, (name, m) in enumerate(meta['images'].items()):
        if not (run/'explorer'/'images'/f'{k:03d}.js').exists(): problems.append(f'explorer: no image script for {name}')
        if m['H'] * m['W'] > 4096 and m['inline']: problems.append(f'explorer: {name} ({m["H"]}x{m["W"]}) not cut into bands')
        lost = [b for b in range(m['n_bands']) if not m['inline'] and not (run/'explorer'/'bands'/f'{k:03d}_{b:04d}.js').exists()]
        if lost: problems.append(f'explorer: band files {lost} of {name} missing')
if problems: sys.exit('run folder incomplete:\n  ' + '\n  '.join(problems))
print(f'run folder {run} is complete')
