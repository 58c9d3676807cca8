"""The three CPU changes of issue 29's second session, each measured on its own (one torch thread):

  memory   engine rows (JacobianBlocks, adjoint) with freed memory kept (`keep_freed_memory`) or left to glibc's
           defaults: ms a row and minor page faults a pass. The setting is once per process, so each way runs in
           child processes of its own, alternately; between passes each child runs autograd's per-pixel call (other
           work that allocates and frees, as the benchmark's other ways do)
  layers   two steps of VessNet's adjoint alone, in one process with memory kept, interleaved round by round:
           the first layer's adjoint back to one channel (a convolution against `ConvAdjoint._taps`) and the
           bottom level's stride-1 adjoint on a 3x3 map at 48x48 (a convolution against `ConvAdjoint._dense`)

    python bench/adjoint_parts.py --part memory --width 16 --size 48 --rows 64 --rounds 7
    python bench/adjoint_parts.py --part layers --width 16 --size 48 --rows 64 --rounds 9
"""
import argparse, json, platform, resource, statistics, subprocess, sys, time
import torch
import torch.nn.functional as F
from vessnb.model import VessNet
from vessnb.jacobian import JacobianBlocks, keep_freed_memory, model_input
from vessnb.adjoint import build_adjoint
from vessnb import jacobian

def faults(): return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def child(a):
    "One process: `--rounds` timed engine runs of `--rows` random rows, autograd's per-pixel call between them."
    if a.child == 'default': jacobian._KEPT.append(False)     # recorded as done: the engine leaves glibc's defaults alone
    kept = keep_freed_memory()
    torch.manual_seed(0)
    m, img = VessNet(width=a.width).eval(), torch.rand(a.size, a.size)
    pix = torch.randperm(a.size ** 2)[:a.rows]
    pix = torch.stack([pix // a.size, pix % a.size], 1)
    xg = img[None, None].clone().requires_grad_()
    out = []
    for _ in range(a.rounds + 1):
        p = m(xg).softmax(1)[0, 1]
        for k in range(16): torch.autograd.grad(p[k, k], xg, retain_graph=True)
        e = JacobianBlocks(m, img, backward='adjoint', method='batched', pixels=pix)
        f0, t0 = faults(), time.perf_counter()
        for _ in e: pass
        out.append(((time.perf_counter() - t0) / a.rows * 1e3, (faults() - f0) / e.info['n_blocks']))
    print(json.dumps(dict(kept=kept, ms=[o[0] for o in out[1:]], faults=[o[1] for o in out[1:]])))

def memory(a):
    res = {'keep': [], 'default': []}
    for _ in range(2):
        for way in res:
            cmd = [sys.executable, __file__, '--child', way] + [f'--{k}={getattr(a, k)}' for k in ('width', 'size', 'rows', 'rounds')]
            res[way].append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1]))
    rows = {w: dict(kept=r[0]['kept'], ms=statistics.median(x for d in r for x in d['ms']),
                    faults=statistics.median(x for d in r for x in d['faults'])) for w, r in res.items()}
    print("| memory | ms a row | page faults a pass |\n|---|---|---|")
    for w, r in rows.items(): print(f"| {w}{' (kept)' if r['kept'] else ''} | {r['ms']:.3f} | {r['faults']:.0f} |")
    print(f"default / keep: {rows['default']['ms'] / rows['keep']['ms']:.2f}")
    return rows

def layers(a):
    keep_freed_memory()
    torch.manual_seed(0)
    m = VessNet(width=a.width).eval()
    A = build_adjoint(m, model_input(m, torch.rand(a.size, a.size)))
    B, cl = a.rows, torch.channels_last
    stem, (_, c2, *_ ) = A.stem, A.blocks[-1]
    g0 = torch.randn(B, stem.W.shape[1], a.size, a.size).contiguous(memory_format=cl)
    h = a.size // 16
    g3 = torch.randn(B, c2.W.shape[1], h, h).contiguous(memory_format=cl)
    conv = lambda ad, g: F.conv2d(g, ad.W, padding=[d * (k - 1) - p for d, k, p in zip(ad.d, ad.k, ad.p)], dilation=ad.d)
    ways = {'first layer: convolution': lambda: conv(stem, g0), 'first layer: _taps': lambda: stem._taps(g0),
            f'bottom {h}x{h}: convolution': lambda: conv(c2, g3)}
    if c2._dense(h, h) is not None: ways[f'bottom {h}x{h}: _dense'] = lambda: c2._by_matrix(g3)
    for f in ways.values(): f()
    ts = {k: [] for k in ways}
    for _ in range(a.rounds):
        for k, f in ways.items():
            t0 = time.perf_counter(); f(); ts[k].append((time.perf_counter() - t0) * 1e3)
    print(f"| step ({B} cotangents) | ms |\n|---|---|")
    for k, v in ts.items(): print(f"| {k} | {statistics.median(v):.2f} |")
    return {k: statistics.median(v) for k, v in ts.items()}

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--part', choices=['memory', 'layers'], default='memory'); p.add_argument('--child', choices=['keep', 'default'])
    p.add_argument('--width', type=int, default=16); p.add_argument('--size', type=int, default=48)
    p.add_argument('--rows', type=int, default=64); p.add_argument('--rounds', type=int, default=7)
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.child: return child(a)
    print(f"# torch {torch.__version__}, python {platform.python_version()}, {platform.processor() or platform.machine()}, 1 thread, "
          f"width {a.width}, {a.size}x{a.size}", flush=True)
    (memory if a.part == 'memory' else layers)(a)

if __name__ == '__main__': main()
