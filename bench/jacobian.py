"""Benchmark: the original Jacobian call against vessnb.jacobian, in one run on one device.

For each image size: the original call `torch.autograd.functional.jacobian(prob_map, x, vectorize=False)` on
the vessel-probability map (float32, the device's default precision settings, i.e. TF32 convolutions on a GPU
as in the original), and vessnb's exact extraction (`iter_jacobian_blocks`, method 'auto' plus the forced
alternatives). Reported per method: median wall time over --repeats runs, peak memory, max |error| against a
float64 answer (relative to max|J|), and the number of thresholded counts (input pixels with |g| > 0.01 max|J|,
per output pixel) that differ from the float64 counts.

Sizes too large to run in full (--sample N) are timed on N output pixels (or N colour classes) and the time is
extrapolated to the whole image; such rows are marked `extrapolated` and their error/count figures cover the
sampled rows only, with the threshold taken from the sampled rows' max|J|.

Examples
  CPU:  python bench/jacobian.py --device cpu --width 16 --sizes 32 --repeats 3 --threads 2
        python bench/jacobian.py --device cpu --width 16 --sizes 160 --sample 64 --repeats 3 --threads 2
  GPU:  python bench/jacobian.py --device cuda --width 64 --sizes 64 --repeats 5
        python bench/jacobian.py --device cuda --width 64 --sizes 256 --repeats 3 --orig-sample 2048 --repeats-orig 1
"""
import argparse, json, platform, statistics, sys, threading, time
from pathlib import Path

import numpy as np
import torch

from vessnb.data import synthetic_item, load_image, centre_crop
from vessnb.model import VessNet, load_checkpoint
from vessnb.jacobian import iter_jacobian_blocks, measure_support, _colour_keys, _plan_blocks, JacobianBlocks

PROPORTION = 0.01


class PeakMemory:
    "Peak device memory (CUDA: allocator high-water mark) or peak RSS growth (CPU: sampled every 5 ms) in MiB."
    def __init__(self, device): self.device = torch.device(device)
    @staticmethod
    def _rss():
        with open('/proc/self/statm') as f: return int(f.read().split()[1]) * 4096
    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            self.base = self.peak = self._rss(); self.stop = False
            def watch():
                while not self.stop: self.peak = max(self.peak, self._rss()); time.sleep(0.005)
            self.thread = threading.Thread(target=watch, daemon=True); self.thread.start()
        return self
    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(); self.mib = (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
        else:
            self.stop = True; self.thread.join(); self.peak = max(self.peak, self._rss())
            self.mib = (self.peak - self.base) / 2**20


def cpu_name():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()


def sync(device):
    if torch.device(device).type == 'cuda': torch.cuda.synchronize()


def prob_map(model):
    return lambda z: model(z[None, None]).softmax(1)[0, 1]


def original_full(model, x):
    "The original call: one backward per output pixel in a Python loop (vectorize=False)."
    return torch.autograd.functional.jacobian(prob_map(model), x, vectorize=False)


def original_rows(model, x, pixels, device):
    "The original call's work for some output pixels only (what `vectorize=False` does per output element):"
    "returns (seconds of the forward pass, seconds of the rows, rows)."
    sync(device); t0 = time.perf_counter()
    xg = x.clone().requires_grad_()
    p = prob_map(model)(xg)
    sync(device); t1 = time.perf_counter()
    rows = torch.stack([torch.autograd.grad(p[i, j], xg, retain_graph=True)[0] for i, j in pixels.tolist()])
    sync(device)
    return t1 - t0, time.perf_counter() - t1, rows


def vessnb_sampled(model, x, method, pixels, support, chunk_size, device):
    "vessnb on some pixels: (seconds of setup = forward pass + plan, seconds of the rows, pixels, rows, info)."
    sync(device); t0 = time.perf_counter()
    it = iter_jacobian_blocks(model, x, method=method, pixels=pixels, support=support, chunk_size=chunk_size)
    sync(device); t1 = time.perf_counter()
    ps, rs = zip(*it)
    sync(device)
    return t1 - t0, time.perf_counter() - t1, torch.cat(ps), torch.cat(rs), it.info


def timed_split(fn, repeats):
    "Median (setup, rows) seconds over `repeats` calls of `fn` returning (setup_s, rows_s, *out); last out."
    runs = [fn() for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2:]


def vessnb_rows(model, x, method, pixels=None, support=None, chunk_size=None):
    "Rows from vessnb for `pixels` (None: all); returns (pixels, rows, info)."
    it = iter_jacobian_blocks(model, x, method=method, pixels=pixels, support=support, chunk_size=chunk_size)
    ps, rs = zip(*it)
    return torch.cat(ps), torch.cat(rs), it.info


def counts(rows, max_abs):
    return (rows.abs() > PROPORTION * max_abs).sum((-2, -1))


def compare(rows, ref, rows_max=None, ref_max=None):
    "max|rows - ref| / max|J| and the number of differing thresholded counts (each at its own max|J|: given or of the rows)."
    rows_max = float(rows.abs().max()) if rows_max is None else rows_max
    ref_max = float(ref.abs().max()) if ref_max is None else ref_max
    err = float((rows.double() - ref).abs().max() / ref_max)
    diff = int((counts(rows, rows_max) != counts(ref, ref_max)).sum())
    return err, diff


def stream_rows(model, x, method, keep, support=None, chunk_size=None):
    "All rows by vessnb, streamed: (rows at the raster indices `keep`, global max|J|, info)."
    H, W = x.shape[-2:]
    it = iter_jacobian_blocks(model, x, method=method, support=support, chunk_size=chunk_size)
    pos = torch.full((H * W,), -1, dtype=torch.long, device=x.device)
    pos[keep.to(x.device)] = torch.arange(len(keep), device=x.device)
    out = torch.empty(len(keep), H, W, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32, device=x.device)
    m = torch.zeros((), dtype=out.dtype, device=x.device)
    for p, r in it:
        m = torch.maximum(m, r.abs().max().to(m.dtype))
        k = pos[p[:, 0] * W + p[:, 1]]
        sel = k >= 0
        out[k[sel]] = r[sel].to(out.dtype)
    return out, float(m), it.info


def timed(fn, device, repeats):
    times, out = [], None
    for _ in range(repeats):
        sync(device); t = time.perf_counter()
        out = fn()
        sync(device); times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def run_size(model, model64, x, args, results):
    dev, H = args.device, x.shape[-1]
    n_all = H * H
    sample = args.sample if args.sample and args.sample < n_all else None
    gen = torch.Generator().manual_seed(0)
    support = measure_support(model, x)
    print(f'size {H}: measured support {support}', flush=True)
    if sample is None:
        # Full runs. Rows are compared at `keep` (all pixels up to 64x64, else --eval-rows random ones), each
        # method's counts thresholded at its own global max|J|; the float64 answer is vessnb in float64
        # (validated against torch.autograd.functional.jacobian in 03_jacobian), streamed over the whole image.
        keep = torch.arange(n_all) if n_all <= 4096 else torch.randperm(n_all, generator=gen)[:args.eval_rows].sort().values
        ref, ref_max, _ = stream_rows(model64, x.double(), 'auto', keep, support=support)
        entries = []
        if args.orig_sample and args.orig_sample < n_all:
            opix = torch.stack([keep[:args.orig_sample] // H, keep[:args.orig_sample] % H], 1)
            with PeakMemory(dev) as mem: t_fwd, t_rows, (J,) = timed_split(lambda: original_rows(model, x, opix, dev), args.repeats_orig)
            err, diff = compare(J, ref[:len(opix)], ref_max, ref_max)
            entries.append(dict(method='original vectorize=False (extrapolated)', median_s=t_fwd + t_rows * n_all / len(opix),
                                setup_s=t_fwd, rows_s=t_rows, peak_mib=mem.mib, rel_err=err, count_diff=diff,
                                rows_timed=len(opix), note='counts thresholded at the float64 max|J|'))
        else:
            with PeakMemory(dev) as mem: med, ts, J = timed(lambda: original_full(model, x), dev, args.repeats_orig)
            J = J.reshape(n_all, H, H)
            err, diff = compare(J[keep.to(J.device)], ref, float(J.abs().max()), ref_max)
            entries.append(dict(method='original vectorize=False', median_s=med, times_s=ts, peak_mib=mem.mib, rel_err=err, count_diff=diff))
        del J
        for method in args.methods:
            if method == 'colour' and support is None: continue
            with PeakMemory(dev) as mem:
                med, ts, (r, m, info) = timed(lambda: stream_rows(model, x, method, keep, support=support, chunk_size=args.chunk_size), dev, args.repeats)
            err, diff = compare(r, ref, m, ref_max)
            entries.append(dict(method=f"vessnb {method} -> {info['method']}", median_s=med, times_s=ts, peak_mib=mem.mib,
                                rel_err=err, count_diff=diff, chunk_size=info['chunk_size'], n_backward=info['n_backward'],
                                rows_compared=len(keep)))
            del r
    else:
        pix = torch.stack([torch.randint(0, H, (sample,), generator=gen), torch.randint(0, H, (sample,), generator=gen)], 1)
        pix = torch.unique(pix, dim=0)
        _, ref, _ = vessnb_rows(model64, x.double(), 'batched', pixels=pix)
        entries = []
        with PeakMemory(dev) as mem: t_fwd, t_rows, (J,) = timed_split(lambda: original_rows(model, x, pix, dev), args.repeats_orig)
        err, diff = compare(J, ref)
        entries.append(dict(method='original vectorize=False (extrapolated)', median_s=t_fwd + t_rows * n_all / len(pix),
                            setup_s=t_fwd, rows_s=t_rows, peak_mib=mem.mib, rel_err=err, count_diff=diff, rows_timed=len(pix)))
        allpix = torch.stack(torch.meshgrid(torch.arange(H), torch.arange(H), indexing='ij'), -1).reshape(-1, 2)
        for method in args.methods:
            if method == 'auto' or (method == 'colour' and support is None): continue   # sampled: the methods themselves
            if method == 'batched': mpix, scale = pix, n_all / len(pix)
            else:
                # colour: all pixels of `sample` random colour classes (each class = one backward pass)
                keys = _colour_keys(allpix, support.shape)
                classes = torch.unique(keys)
                chosen = classes[torch.randperm(len(classes), generator=gen)[:sample]]
                mpix, scale = allpix[torch.isin(keys, chosen)], len(classes) / len(chosen)
            with PeakMemory(dev) as mem:
                t_set, t_rows, (p, r, info) = timed_split(lambda: vessnb_sampled(model, x, method, mpix, support, args.chunk_size, dev), args.repeats)
            _, rref, _ = vessnb_rows(model64, x.double(), 'batched', pixels=p)
            err, diff = compare(r, rref)
            entries.append(dict(method=f'vessnb {method} (extrapolated)', median_s=t_set + t_rows * scale, setup_s=t_set,
                                rows_s=t_rows, peak_mib=mem.mib, rel_err=err, count_diff=diff, rows_timed=len(p),
                                chunk_size=info['chunk_size'], n_backward_timed=info['n_backward']))
    base = entries[0]['median_s']
    for e in entries: e['speedup_vs_original'] = base / e['median_s']
    results.append(dict(size=H, support=None if support is None else list(support.shape), sampled=sample is not None, entries=entries))
    for e in entries:
        print(f"  {e['method']:<42} {e['median_s']:9.3f} s  x{e['speedup_vs_original']:6.1f}  peak {e['peak_mib']:8.1f} MiB  "
              f"err {e['rel_err']:.2e}  count diffs {e['count_diff']}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--width', type=int, default=64)
    ap.add_argument('--sizes', type=int, nargs='+', default=[64, 256])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--repeats-orig', type=int, default=None, help='repeats of the original call (default: --repeats)')
    ap.add_argument('--sample', type=int, default=None, help='time N output pixels / colour classes and extrapolate')
    ap.add_argument('--orig-sample', type=int, default=None, help='full runs: time the original on N rows and extrapolate')
    ap.add_argument('--eval-rows', type=int, default=1024, help='full runs above 64x64: rows compared with float64')
    ap.add_argument('--methods', nargs='+', default=['auto', 'batched', 'colour'])
    ap.add_argument('--chunk-size', type=int, default=None)
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--checkpoint', default=None, help='vessnb checkpoint (default: untrained VessNet, seed 0)')
    ap.add_argument('--image', default=None, help='image file (default: a synthetic vessel image)')
    ap.add_argument('--out', default=None, help='write the results as JSON here')
    args = ap.parse_args(argv)
    args.repeats_orig = args.repeats_orig or args.repeats
    if args.threads: torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.checkpoint: model, _ = load_checkpoint(args.checkpoint, map_location=args.device)
    else: model = VessNet(width=args.width)
    model = model.to(args.device).eval()
    for p in model.parameters(): p.requires_grad_(False)
    import copy
    model64 = copy.deepcopy(model).double()
    env = dict(command=' '.join([sys.executable.split('/')[-1]] + sys.argv), torch=torch.__version__,
               device=torch.cuda.get_device_name() if args.device.startswith('cuda') else f'{cpu_name()} ({torch.get_num_threads()} threads)',
               threads=torch.get_num_threads(), width=args.width, tf32_conv_default=str(torch.backends.cudnn.conv.fp32_precision)
               if hasattr(torch.backends.cudnn, 'conv') else str(torch.backends.cudnn.allow_tf32))
    print(env, flush=True)
    results = []
    for size in args.sizes:
        img = load_image(args.image) if args.image else synthetic_item(max(size, 64), seed=1)[0].astype(np.float32) / 255
        x = torch.from_numpy(np.ascontiguousarray(centre_crop(img, size))).float().to(args.device)
        run_size(model, model64, x, args, results)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(env=env, results=results), indent=2))
    return results


if __name__ == '__main__':
    main()
