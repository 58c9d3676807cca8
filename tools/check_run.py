"""Check that a pipeline run folder holds what `vessnb run` promises. Usage: python tools/check_run.py RUN_DIR"""
import json, sys
from pathlib import Path

run = Path(sys.argv[1])
problems = []
def need(pattern, what):
    if not list(run.glob(pattern)): problems.append(f'no {what} ({pattern})')
from vessnb.pipeline import STAGES
from vessnb.config import RUN_FILES
for s in STAGES.values():
    need(f"{RUN_FILES['notebooks']}/{s.notebook}.ipynb", f'record notebook of stage {s.name}')
need('checkpoints/best.pt', 'checkpoint')
need('maps/*_counts.npy', 'thresholded counts')
need('maps/*_map.npy', 'normalised influence map')
need('maps/*_map.png', 'influence map figure')
need('figures/*.png', 'figures')
need('explorer/index.html', 'explorer page')
need(RUN_FILES['summary'], 'summary')
need(RUN_FILES['log'], 'log')
if (run/'summary.json').exists():
    s = json.loads((run/'summary.json').read_text())
    for k in STAGES:
        if k not in s: problems.append(f'summary.json has no "{k}" section')
ex = run/'explorer'
if (ex/'explorer.json').exists():   # every file the page may load is there: data script, image scripts, band files
    from vessnb.explorer import explorer_files
    lost = [f for f in explorer_files(ex) if not (ex/f).exists()]
    if lost: problems.append(f'explorer: files missing: {lost}')
    for name, m in json.loads((ex/'explorer.json').read_text())['images'].items():
        if m['H'] * m['W'] > 4096 and m['inline']: problems.append(f'explorer: {name} ({m["H"]}x{m["W"]}) not cut into bands')
if problems: sys.exit('run folder incomplete:\n  ' + '\n  '.join(problems))
print(f'run folder {run} is complete')
