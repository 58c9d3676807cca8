"""The extractor's memory estimate against the measured peak (issue 28).

For each image size, in a process of its own: the resident-set peak (`ru_maxrss`, Linux) is read before the
extractor is built and again after its first blocks; the growth is compared with `JacobianBlocks.estimate()`'s
`memory_bytes` (what the Jacobian stage prints as "memory about ...") and with the estimate as it was before
the passes that measure the window were counted (the forward kept plus one block's passes). The window is measured on the way unless
--support is given, as on a model's first image. Run several times; the table reports each run and the median.

    python bench/memory.py --sizes 128 256 512 768 --width 8 --repeats 3 --out bench/out/memory.json
"""
import argparse, json, statistics, subprocess, sys
from pathlib import Path

CHILD = r'''
import json, resource, sys, torch
from vessnb.model import VessNet
from vessnb.jacobian import JacobianBlocks
size, width, support = int(sys.argv[1]), int(sys.argv[2]), (sys.argv[3] if sys.argv[3] != '-' else None)
torch.manual_seed(0)
model, img = VessNet(width=width).eval(), torch.rand(size, size)
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
ext = JacobianBlocks(model, img, support=support)
est = ext.estimate()['memory_bytes']
old = ext.info['bytes_forward'] + ext.state['chunk'] * ext.info['bytes_per_cotangent']   # the estimate before the window's passes counted
for _ in range(min(3, len(ext))): next(ext)
print(json.dumps(dict(method=ext.method, chunk=ext.state['chunk'], estimate=est, old=old, before=before, growth=peak() - before)))
'''

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[128, 256, 512, 768])
    p.add_argument('--width', type=int, default=8)
    p.add_argument('--support', default='-', help="a known window (R px), or - to measure it as a model's first image does")
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--out', default=None)
    a = p.parse_args()
    rows = []
    for s in a.sizes:
        runs = [json.loads(subprocess.run([sys.executable, '-c', CHILD, str(s), str(a.width), a.support], check=True,
                                          capture_output=True, text=True).stdout.strip().splitlines()[-1]) for _ in range(a.repeats)]
        ratios = [r['estimate'] / r['growth'] for r in runs]
        rows.append(dict(size=s, width=a.width, support=a.support, method=runs[0]['method'], chunk=runs[0]['chunk'],
                         estimate_gib=runs[0]['estimate'] / 2**30, growth_gib=[r['growth'] / 2**30 for r in runs],
                         ratio=ratios, median_ratio=statistics.median(ratios), old_gib=runs[0]['old'] / 2**30,
                         old_median_ratio=statistics.median(r['old'] / r['growth'] for r in runs)))
        r = rows[-1]
        print(f"{s}x{s} width {a.width} ({r['method']}, chunk {r['chunk']}): estimate {r['estimate_gib']:.3f} GiB, "
              f"growth {', '.join(f'{g:.3f}' for g in r['growth_gib'])} GiB; estimate/growth median {r['median_ratio']:.2f} "
              f"(without the window's passes: {r['old_gib']:.3f} GiB, {r['old_median_ratio']:.2f})")
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(rows, indent=1))

if __name__ == '__main__': main()
