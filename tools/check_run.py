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
if problems: sys.exit('run folder incomplete:\n  ' + '\n  '.join(problems))
print(f'run folder {run} is complete')
