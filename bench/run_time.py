"""Wall time of `make run` (the default `vessnb run`) and the share of it spent in stage work, against a baseline
checkout of an earlier vessnb, in one session on one machine.

    python bench/run_time.py --baseline /path/to/old/checkout --repeats 3 [--out bench/out/run_time.json]

Each repeat runs the baseline and the current version one after the other (alternating, so that a slow spell of a
shared machine hits both), each into a fresh run folder with the default options. The baseline is imported from
its checkout through PYTHONPATH (its stage notebooks are found in the checkout's nbs/). The stage share is the sum
of the stage functions' own times (`summary.json` -> `stages`) over the command's wall time; the baseline records no
such times, so only its wall time is reported.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

CLI = 'import sys; from vessnb.cli import vessnb_cli; sys.exit(vessnb_cli())'

def one(pythonpath, extra=()):
    d = tempfile.mkdtemp(prefix='vessnb-bench-run-')
    env = {**os.environ, **({'PYTHONPATH': str(pythonpath)} if pythonpath else {})}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, '-c', CLI, 'run', '--run-dir', f'{d}/run', *extra], env=env, cwd=d,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode: sys.exit(f'run failed ({pythonpath or "current"}):\n{r.stderr[-3000:]}')
    s = json.loads(Path(f'{d}/run/summary.json').read_text())
    stage = sum(v['seconds'] for v in s.get('stages', {}).values()) if 'stages' in s else None
    return dict(wall_s=wall, stage_s=stage)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--baseline', required=True, help='checkout of the earlier vessnb')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--out', default=None)
    a = p.parse_args()
    rows = {'baseline': [], 'current': [], 'current --no-notebooks': []}
    for k in range(a.repeats):
        rows['baseline'].append(one(Path(a.baseline).resolve()))
        rows['current'].append(one(None))
        rows['current --no-notebooks'].append(one(None, ['--no-notebooks']))
        print(f'repeat {k + 1}: ' + ', '.join(f"{n} {r[-1]['wall_s']:.1f} s" for n, r in rows.items()), file=sys.stderr)
    med = {n: statistics.median(r['wall_s'] for r in rs) for n, rs in rows.items()}
    share = {n: statistics.median(r['stage_s'] / r['wall_s'] for r in rs) for n, rs in rows.items() if rs[0]['stage_s'] is not None}
    res = dict(command=' '.join(sys.argv), python=sys.version.split()[0], repeats=a.repeats, runs=rows,
               median_wall_s=med, ratio_baseline_over_current=med['baseline'] / med['current'], stage_share=share)
    import torch; res['torch'] = torch.__version__; res['threads'] = torch.get_num_threads()
    print(json.dumps({k: v for k, v in res.items() if k != 'runs'}, indent=1))
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
