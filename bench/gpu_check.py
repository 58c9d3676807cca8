"""Exactness checks of vessnb's Jacobian engine on a device (made for CUDA; runs on the CPU too, for testing).

For a seeded, untrained `VessNet` of each width and a synthetic vessel image (centre crop) of each size, Jacobian
rows of the vessel-probability map are computed by vessnb's public functions (`iter_jacobian_blocks`,
`measure_support`, `JacobianStore`, `influence_map`) in float32 with its exact settings, by method 'auto', 'batched' and 'colour', and
with each backward way (--backwards: the forward-type adjoint, autograd, and
'auto', the engine's own choice), compared with float64 rows made independently of vessnb's engine (`torch.func.vjp` + `vmap` over one-hot
cotangents on a float64 copy of the model, on --ref-device). Reported per check: max |rows - ref| / max|ref|
('err') and the number of output pixels whose thresholded count (input pixels with |g| > 0.01 max|J|, each side at
its own max|J|) differs from the float64 count ('count diffs'); also 'element flips' (entries on different sides of
the threshold) and 'near-threshold' (float64 entries within --tol * max|J| of the threshold, where a flip would
still be within the tolerance), and a rough TFLOP/s figure (passes x forward FLOPs / seconds).

An exact check passes when err <= --tol (default 1e-5; the notebook 03_jacobian's CPU tests use 1e-6 of max|J|,
which each line also reports) and no count differs. 'PASS*' (not a failure unless --strict-counts): err <= --tol and
the counts that differ do so only through entries within 1e-6 max|J| of the threshold, which float32 rounding alone
can flip (at 160 x 160, 655 M entries, a few such entries are to be expected). The same rows computed outside vessnb with TF32 convolutions
(what the device's default precision gives, and what vessnb's exact mode switches off) are reported as INFO lines,
never as failures. While vessnb runs, the caller's flags are set to TF32 convolutions on purpose: vessnb must
switch them off itself (`exact_settings`) and restore them afterwards, which is checked too.

Configurations: --configs W:S:full (all H*W rows, dense) or W:S:subset (all pixels of --classes colour classes,
the most populated ones first, so that each colouring pass carries several pixels). Store checks (--store W:S:R):
`JacobianStore.write(..., dtype='float32', sampling_rate=R)` into a temporary folder, then `influence_map` of the
store compared with the in-memory `influence_map` of the model and with the float64 counts.

Exit status 1 if any exact check fails or errors. Example:
  python bench/gpu_check.py --device cuda --out bench/out/gpu/gpu_check.json
  python bench/gpu_check.py --device cpu --configs 4:32:full 4:160:subset --classes 8 --store 4:32:1
"""
import argparse, copy, json, platform, shutil, sys, tempfile, time, traceback
from pathlib import Path

import numpy as np
import torch
from torch.func import vjp, vmap

from vessnb.data import synthetic_item, centre_crop
from vessnb.model import VessNet
from vessnb.jacobian import (iter_jacobian_blocks, measure_support, colour_spacing, precision_flags,
                             set_precision_flags, auto_chunk, JacobianStore)
from vessnb.threshold import influence_map

PROPORTION = 0.01
HEADS = {'prob': lambda o: o.softmax(1)[0, 1], 'logit': lambda o: o[0, 1], 'logprob': lambda o: o.log_softmax(1)[0, 1]}
RESULTS, T0 = [], time.perf_counter()
STRICT, BORDER = False, 1e-6     # --strict-counts; band around the threshold within which a flip is float32 rounding
OUT = {}     # 'path' and 'env' once known: the JSON is rewritten after every check (a timeout keeps what was done)


def dump(summary=None):
    if OUT.get('path'):
        Path(OUT['path']).parent.mkdir(parents=True, exist_ok=True)
        Path(OUT['path']).write_text(json.dumps(dict(env=OUT['env'], summary=summary, checks=RESULTS), indent=2, default=str))


def sync(dev):
    if torch.device(dev).type == 'cuda': torch.cuda.synchronize()


def tf32_flags():
    "The current precision flags with TF32 convolutions (and TF32 matmuls) switched on."
    f = dict(precision_flags())
    if 'cudnn.conv' in f: f.update({'cudnn.conv': 'tf32', 'cuda.matmul': 'tf32'})
    else: f.update({'cudnn.allow_tf32': True, 'cuda.matmul.allow_tf32': True, 'float32_matmul_precision': 'high'})
    return f


def direct_rows(model, x, pixels, head='prob', chunk=None):
    "Rows (n, H, W) in the model's dtype for output `pixels` (n, 2), by vjp + vmap over one-hot cotangents (no vessnb engine)."
    H, W = x.shape[-2:]
    f = lambda z: HEADS[head](model(z[None, None]))
    out, fn = vjp(f, x)
    if chunk is None: chunk = auto_chunk(model, x[None, None], lambda z: HEADS[head](model(z)))
    rows = torch.empty(len(pixels), H, W, dtype=out.dtype, device=x.device)
    pixels, k = pixels.to(x.device), 0
    while k < len(pixels):
        p = pixels[k:k + chunk]
        cot = torch.zeros(len(p), *out.shape, dtype=out.dtype, device=x.device)
        cot[torch.arange(len(p), device=x.device), p[:, 0], p[:, 1]] = 1
        try: rows[k:k + len(p)] = vmap(fn)(cot)[0]
        except torch.OutOfMemoryError:
            if chunk == 1: raise
            del cot; chunk //= 2; torch.cuda.empty_cache(); continue
        k += len(p)
    return rows


def compare(rows, ref, tol, step=1024):
    "err = max|rows - ref| / max|ref|; thresholded counts (each side at its own max|J|) that differ; element flips."
    ref_max, rows_max = float(ref.abs().max()), float(rows.abs().max())
    tr, tf = PROPORTION * ref_max, PROPORTION * rows_max           # float64 thresholds: `a > p*m` as vessnb counts
    diff = cdiff = flips = near = 0.
    flip_dist = 0.
    for k in range(0, len(ref), step):
        a, b = rows[k:k + step].to(ref.device).double().abs(), ref[k:k + step].abs()
        diff = max(diff, float((rows[k:k + step].to(ref.device).double() - ref[k:k + step]).abs().max()))
        ma, mb = a > tf, b > tr
        cdiff += int((ma.sum((-2, -1)) != mb.sum((-2, -1))).sum())
        fl = ma != mb
        flips += int(fl.sum())
        near += int(((b - tr).abs() <= tol * ref_max).sum())
        if fl.any(): flip_dist = max(flip_dist, float((b[fl] - tr).abs().max()) / ref_max)
        del a, b, ma, mb, fl
    return dict(rel_err=diff / ref_max, count_diff=int(cdiff), rows=len(ref), element_flips=int(flips),
                near_threshold=int(near), max_flip_distance_rel=flip_dist, max_abs=rows_max, ref_max_abs=ref_max)


def record(kind, name, tol, res=None, error=None, **extra):
    "Store and print one check: kind 'exact' (pass/fail) or 'info' (reported only)."
    if error is not None: status = 'FAIL' if kind == 'exact' else 'INFO'
    elif kind != 'exact': status = 'INFO'
    else:
        good = extra.get('ok', True) and (res is None or (res['rel_err'] <= tol and res['count_diff'] == 0))
        status = 'PASS' if good else 'FAIL'
        if (not good and res is not None and extra.get('ok', True) and not STRICT and res['rel_err'] <= tol
                and res['max_flip_distance_rel'] <= BORDER):
            status = 'PASS*'   # counts differ only by entries within BORDER * max|J| of the threshold (float32 rounding)
    e = dict(status=status, kind=kind, check=name, **(res or {}), **extra, **({'error': error} if error else {}))
    RESULTS.append(e)
    if error: msg = f'error: {error.splitlines()[-1]}'
    elif res is None: msg = ' '.join(f'{k}={v}' for k, v in extra.items())
    else:
        msg = (f"err {res['rel_err']:.2e} (<=1e-6: {'yes' if res['rel_err'] <= 1e-6 else 'no'}) "
               f"count diffs {res['count_diff']}/{res['rows']}  element flips {res['element_flips']}  "
               f"near-threshold {res['near_threshold']}" + ''.join(f'  {k} {v}' for k, v in extra.items() if k != 'ok'))
    print(f'{status:5} {name:<44} {msg}  [{time.perf_counter() - T0:.0f} s]', flush=True)
    dump()
    return e


def guarded(kind, name, tol, fn):
    try: return fn()
    except Exception as ex:
        traceback.print_exc()
        record(kind, name, tol, error=f'{type(ex).__name__}: {ex}')
        if torch.cuda.is_available(): torch.cuda.empty_cache()


def forward_flops(model, x):
    "FLOPs of one forward pass (about those of one backward pass to the input), by torch's flop counter; None if unavailable."
    try:
        from torch.utils.flop_counter import FlopCounterMode
        fc = FlopCounterMode(display=False)
        with fc, torch.no_grad(): model(x[None, None])
        return fc.get_total_flops()
    except Exception: return None


def rate(flops, n, secs):
    "TFLOP/s of `n` backward passes of `flops` each in `secs` (a rough figure: backward ~ forward FLOPs)."
    return None if flops is None or not secs else round(n * flops / secs / 1e12, 2)


def make(width, size, dev, ref_dev):
    torch.manual_seed(0)
    model = VessNet(width=width).to(dev).eval()
    for p in model.parameters(): p.requires_grad_(False)
    model64 = copy.deepcopy(model).double().to(ref_dev)
    img = synthetic_item(max(size, 64), seed=1)[0].astype(np.float32) / 255
    x = torch.from_numpy(np.ascontiguousarray(centre_crop(img, size))).float().to(dev)
    return model, model64, x


def subset_pixels(size, support, n_classes, seed=0):
    "All pixels of `n_classes` colour classes of `support` (the most populated classes first, random among equals)."
    ii, jj = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    allpix = torch.stack([ii.flatten(), jj.flatten()], 1)
    sh, sw = colour_spacing(support.shape)
    keys = (allpix[:, 0] % sh) * sw + allpix[:, 1] % sw
    count = torch.bincount(keys)
    order = torch.randperm(len(count), generator=torch.Generator().manual_seed(seed))
    order = order[torch.sort(count[order], descending=True, stable=True).indices]
    chosen = order[:n_classes]
    return allpix[torch.isin(keys, chosen)], int(count[chosen].min()), int(count[chosen].max())


def vessnb_call(fn, dev):
    "Run `fn` with the caller's flags at TF32 (restored after); returns (result, seconds, flags unchanged by vessnb?)."
    saved = precision_flags()
    set_precision_flags(tf32_flags())
    try:
        before = precision_flags()
        sync(dev); t = time.perf_counter()
        out = fn()
        sync(dev)
        return out, time.perf_counter() - t, precision_flags() == before
    finally: set_precision_flags(saved)


def vessnb_rows(model, x, pix, target, method, full, backward='auto'):
    "Rows (n, H, W) of vessnb's `iter_jacobian_blocks` at `pix` (all pixels in raster order if `full`), and its info."
    H, W = x.shape[-2:]
    it = iter_jacobian_blocks(model, x, target=target, method=method, pixels=None if full else pix, backward=backward)
    pos = torch.full((H * W,), -1, dtype=torch.long, device=x.device)
    pos[(pix[:, 0] * W + pix[:, 1]).to(x.device)] = torch.arange(len(pix), device=x.device)
    rows = torch.empty(len(pix), H, W, device=x.device)
    seen = torch.zeros(len(pix), dtype=torch.bool, device=x.device)
    for p, r in it:
        k = pos[(p[:, 0] * W + p[:, 1]).to(x.device)]
        if (k < 0).any() or seen[k].any(): raise RuntimeError('vessnb returned a pixel not asked for, or twice')
        rows[k], seen[k] = r, True
    if not seen.all(): raise RuntimeError(f'vessnb left {int((~seen).sum())} pixels out')
    return rows, it.info


def run_config(width, size, mode, args):
    dev, ref_dev, tol = args.device, args.ref_device, args.tol
    tag = f'w{width} {size}x{size} {mode}'
    print(f'--- {tag}', flush=True)
    model, model64, x = make(width, size, dev, ref_dev)
    x64 = x.double().to(ref_dev)
    flops = forward_flops(model, x)
    print(f'    forward pass {flops / 1e9 if flops else float("nan"):.3f} GFLOP', flush=True)
    t = time.perf_counter()
    sup = measure_support(model, x)
    sup64 = measure_support(model64, x64)
    record('exact', f'{tag} support fp32 == fp64', tol, support=None if sup is None else list(sup.shape),
           support64=None if sup64 is None else list(sup64.shape), ok=sup == sup64)
    print(f'    support {sup} ({time.perf_counter() - t:.1f} s)', flush=True)
    if mode == 'full':
        ii, jj = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
        pix = torch.stack([ii.flatten(), jj.flatten()], 1)
        pinfo = f'all {len(pix)} rows'
    else:
        if sup is None: raise RuntimeError(f'{tag}: no window smaller than the image, subset mode needs one (use full)')
        pix, cmin, cmax = subset_pixels(size, sup, args.classes)
        pinfo = f'{len(pix)} rows of {args.classes} colour classes ({cmin}-{cmax} pixels each)'
    print(f'    {pinfo}', flush=True)
    heads = ['prob'] + ([h for h in args.heads if h != 'prob'] if (width, size) == tuple(args.head_config) else [])
    for head in heads:
        sync(ref_dev); t = time.perf_counter()
        ref = direct_rows(model64, x64, pix, head)
        sync(ref_dev); t_ref = time.perf_counter() - t
        print(f'    float64 reference ({head}, {ref_dev}): {len(pix)} rows in {t_ref:.1f} s, '
              f'~{rate(flops, len(pix), t_ref)} TFLOP/s float64 (incl. the first call\'s warm-up)', flush=True)
        target = None if head == 'prob' else head
        methods = ['auto', 'batched'] + (['colour'] if sup is not None else []) if head == 'prob' else ['auto']
        chosen = None
        for m, bw in [(m, bw) for m in methods for bw in args.backwards]:
            if m == 'colour' and chosen == 'colour': continue          # 'auto' already was colouring
            name = f'{tag} {head} vessnb {m} backward={bw}'
            def one():
                nonlocal chosen
                (rows, info), secs, restored = vessnb_call(lambda: vessnb_rows(model, x, pix, target, m, mode == 'full', bw), dev)
                if m == 'auto' and head == 'prob': chosen = info['method']
                res = compare(rows, ref, tol)
                del rows
                record('exact', name, tol, res, method_used=info['method'], backward_used=f"{info['backward']}/{info['memory_format']}",
                       backward_reason=info['backward_reason'], n_backward=info['n_backward'],
                       chunk=info['chunk_size'], seconds=round(secs, 3), tflops=rate(flops, info['n_backward'], secs),
                       flags_restored=restored, ok=restored)
            guarded('exact', name, tol, one)
        if head == 'prob':
            def tf32():
                flags = precision_flags()
                set_precision_flags(tf32_flags())
                try:
                    sync(dev); t = time.perf_counter()
                    rows = direct_rows(model, x, pix, head)
                    sync(dev); secs = time.perf_counter() - t
                finally: set_precision_flags(flags)
                res = compare(rows, ref, tol)
                record('info', f'{tag} {head} TF32 direct (not vessnb)', tol, res, seconds=round(secs, 3),
                       tflops=rate(flops, len(pix), secs))
                f = precision_flags()
                if f.get('cudnn.conv', f.get('cudnn.allow_tf32')) not in ('tf32', True):   # default not TF32: show it too
                    rows = direct_rows(model, x, pix, head)
                    record('info', f'{tag} {head} default flags direct', tol, compare(rows, ref, tol), flags=str(precision_flags()))
            guarded('info', f'{tag} {head} TF32 direct', tol, tf32)
        del ref
        if torch.cuda.is_available(): torch.cuda.empty_cache()


def store_check(width, size, srate, args):
    dev, ref_dev, tol = args.device, args.ref_device, args.tol
    name = f'w{width} {size}x{size} store float32 sampling {srate}'
    print(f'--- {name}', flush=True)
    model, model64, x = make(width, size, dev, ref_dev)
    tmp = Path(tempfile.mkdtemp(prefix='gpu_check_store-', dir=args.tmp))
    try:
        js = JacobianStore(tmp/'j.zarr')
        a, secs, restored = vessnb_call(lambda: js.write('img', model, x, dtype='float32', sampling_rate=srate), dev)
        store = influence_map(js, 'img')
        mem = influence_map(model, x, sampling_rate=srate)
        sc, mc = store.counts[0].cpu(), mem.counts[0].cpu()
        ii, jj = torch.meshgrid(torch.arange(0, size, srate), torch.arange(0, size, srate), indexing='ij')
        pix = torch.stack([ii.flatten(), jj.flatten()], 1)
        ref = direct_rows(model64, x.double().to(ref_dev), pix)
        rmax = float(ref.abs().max())
        rc = (ref.abs() > PROPORTION * rmax).sum((-2, -1)).reshape(sc.shape).cpu()
        # the store's rows, read back (their max, per block), against the float64 rows
        rows = torch.empty(len(pix), size, size)
        pos = {(int(i), int(j)): k for k, (i, j) in enumerate(pix.tolist())}
        for p, r in js.iter_blocks('img'):
            for (i, j), row in zip(p.tolist(), r): rows[pos[(i, j)]] = row
        res = compare(rows, ref.cpu(), tol)
        idiff = int((sc != rc).sum())    # the store's influence map against the float64 counts (= res['count_diff'])
        ok = bool(torch.equal(sc, mc)) and store.max_abs == mem.max_abs and restored
        record('exact', name, tol, res, method_used=a['method'], layout=a['layout'], seconds=round(secs, 3),
               influence_count_diff=idiff, store_vs_memory_counts_equal=bool(torch.equal(sc, mc)), store_max_abs=store.max_abs,
               memory_max_abs=mem.max_abs, flags_restored=restored, ok=ok)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def triple(s, n=3):
    parts = s.split(':')
    if len(parts) != n: raise argparse.ArgumentTypeError(f'{s!r}: expected {n} fields separated by ":"')
    return parts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--ref-device', default=None, help='device of the float64 reference (default: --device)')
    ap.add_argument('--configs', nargs='+', type=triple, default=[triple(c) for c in ('8:48:full', '8:160:full', '64:48:full', '64:160:subset')])
    ap.add_argument('--classes', type=int, default=64, help='colour classes of a subset configuration')
    ap.add_argument('--backwards', nargs='+', default=['adjoint', 'autograd', 'auto'], help="ways the backward passes are made, each checked")
    ap.add_argument('--heads', nargs='+', default=['prob', 'logit', 'logprob'], help="targets checked on --head-config ('prob' on all)")
    ap.add_argument('--head-config', type=int, nargs=2, default=None, help='W S of the configuration with all --heads (default: the first)')
    ap.add_argument('--store', nargs='*', type=triple, default=[triple(c) for c in ('8:48:1', '8:160:8')])
    ap.add_argument('--tol', type=float, default=1e-5, help='max |rows - ref| / max|ref| of an exact check')
    ap.add_argument('--strict-counts', action='store_true', help='count every differing count as a failure (default: PASS* '
                    'when all flipped entries lie within 1e-6 max|J| of the threshold and err <= --tol)')
    ap.add_argument('--tmp', default=None, help='folder for the temporary stores (default: the system temp folder)')
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--out', default=None, help='write the results as JSON here')
    args = ap.parse_args(argv)
    args.ref_device = args.ref_device or args.device
    global STRICT
    STRICT = args.strict_counts
    if args.threads: torch.set_num_threads(args.threads)
    if args.head_config is None: args.head_config = [int(args.configs[0][0]), int(args.configs[0][1])]
    cuda = torch.device(args.device).type == 'cuda'
    env = dict(command=' '.join([Path(sys.executable).name] + sys.argv), python=platform.python_version(), torch=torch.__version__,
               cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version() if cuda else None,
               device=torch.cuda.get_device_name(args.device) if cuda else platform.processor() or platform.machine(),
               ref_device=args.ref_device, default_flags=precision_flags(), tol=args.tol, proportion=PROPORTION,
               notebook_tolerance='03_jacobian tests: test_close(..., eps=1e-6 * max|J|) on the CPU')
    print(env, flush=True)
    OUT.update(path=args.out, env=env)
    for w, s, mode in args.configs:
        if mode not in ('full', 'subset'): ap.error(f'config mode {mode!r}: full or subset')
        t = time.perf_counter()
        guarded('exact', f'w{w} {s}x{s} {mode}', args.tol, lambda: run_config(int(w), int(s), mode, args))
        print(f'    ({time.perf_counter() - t:.1f} s)', flush=True)
    for w, s, r in args.store:
        t = time.perf_counter()
        guarded('exact', f'w{w} {s}x{s} store', args.tol, lambda: store_check(int(w), int(s), int(r), args))
        print(f'    ({time.perf_counter() - t:.1f} s)', flush=True)
    failed = [r['check'] for r in RESULTS if r['status'] == 'FAIL']
    border = [r['check'] for r in RESULTS if r['status'] == 'PASS*']
    n_exact = sum(r['kind'] == 'exact' for r in RESULTS)
    summary = dict(exact_checks=n_exact, failed=failed, borderline=border, seconds=time.perf_counter() - T0)
    print(f"SUMMARY {'FAIL' if failed else 'PASS'}: {n_exact - len(failed)}/{n_exact} exact checks passed"
          + (f"; failed: {failed}" if failed else '')
          + (f"; PASS* (counts differ only at entries within {BORDER:g} max|J| of the threshold): {border}" if border else '')
          + f" ({summary['seconds']:.0f} s)", flush=True)
    dump(summary)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
