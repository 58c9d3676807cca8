"""Jacobian rows per second on one device: vessnb's engine against a plain vmapped VJP, the original per-pixel call
and the batched forward pass, for VessNet widths x image sizes (issue 29).

For each width W and size S (a seeded, untrained VessNet with trained-like batch-norm statistics; a uniform random
S x S image), the same rows are timed, interleaved round by round, medians of --rounds rounds:

  engine            `JacobianBlocks(..., backward='auto')` as a run uses it (method 'auto', VessNet's known window of
                    receptive_field//2 px each side): on images larger than the window it colours, and each of
                    its `passes` backward passes gives the rows of all pixels of one colour class (random classes,
                    `rows/pass` on average); otherwise it is batched over `passes` random pixels. Its set-up (forward
                    pass, the adjoint's check) is excluded and reported as `setup_s`; the way it chose is printed.
                    Its chunk is its own (`auto_chunk`, as in a run); the other ways use --chunk
  engine, autograd  the same with backward='autograd' and method 'batched' (the engine before issue 29, one row a pass)
  plain VJP         `vjp` once, then `vmap(vjp_fn)` over pre-built one-hot cotangents, --chunk at a time
  (`passes`: as many passes as fit in about --seconds at 50 GFLOP/s, between --min-rows and --rows)
  original          one `torch.autograd.grad(p[i, j], x, retain_graph=True)` per output pixel on one graph (the
                    original project's call), on --orig-rows pixels
  forward           a forward pass of --chunk copies of the image, contiguous and channels_last (no grad): the
                    framework's own rate at this shape

GFLOP/s: the FLOPs torch's FlopCounterMode counts for one forward pass of one image (convolutions), per row or per
image; a row's backward pass does the same convolutions transposed. `whole field`: the hours one 1104x1376 field
would take on this device by colouring (passes = the colour classes of the receptive-field window, each pass
costing one row at this size scaled by the field's area), from the engine's rate here.

    python bench/engine_speed.py --threads 1 --widths 8 16 64 --sizes 48 128 256 --rounds 3 --out bench/out/engine_speed.json
"""
import argparse, json, math, platform, statistics, time
import torch
from torch import nn
from torch.func import vjp, vmap
from torch.utils.flop_counter import FlopCounterMode
from vessnb.model import VessNet, receptive_field
from vessnb.jacobian import JacobianBlocks, Support, colour_spacing, exact_settings, _colour_keys, _onehots

FIELD = (1104, 1376)

def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()

def make(width, size, dev, seed=0):
    torch.manual_seed(seed)
    m = VessNet(width=width)
    g = torch.Generator().manual_seed(seed)
    for b in m.modules():
        if isinstance(b, nn.BatchNorm2d):
            n = b.num_features
            b.running_mean.copy_(torch.rand(n, generator=g) - 0.5); b.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return m.eval().to(dev), torch.rand(size, size, generator=g).to(dev)

def config(width, size, a, dev):
    model, img = make(width, size, dev)
    x = img[None, None]
    with torch.no_grad(), FlopCounterMode(display=False) as fc: model(x)
    flops = fc.get_total_flops()
    n = max(a.min_rows, min(a.rows, int(a.seconds / (flops / 50e9))))
    B = min(a.chunk, n)
    n -= n % B
    gen = torch.Generator().manual_seed(1)
    pix = torch.randperm(size * size, generator=gen)[:n]
    pix = torch.stack([pix // size, pix % size], 1)
    opix = pix[:min(a.orig_rows, n)]
    r = receptive_field(model) // 2
    sup = Support(r, r, r, r)
    every = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij'), -1).reshape(-1, 2)
    keys = _colour_keys(every, colour_spacing(sup.shape))
    chosen = torch.unique(keys)[torch.randperm(len(torch.unique(keys)), generator=gen)[:n]]
    cpix = every[torch.isin(keys, chosen)] if sup.shape[0] <= size else pix       # all pixels of n random colour classes
    cots = [_onehots(pix[k:k + B].to(dev), (size, size), torch.float32, dev) for k in range(0, n, B)]
    mcl = VessNet(width=width).to(dev).eval().to(memory_format=torch.channels_last); mcl.load_state_dict(model.state_dict())
    xb, setup = x.expand(B, -1, -1, -1).contiguous(), {}
    xcl = xb.contiguous(memory_format=torch.channels_last)
    f = lambda z: model(z).softmax(1)[0, 1]

    def engine(backward):
        sync(dev); t = time.perf_counter()
        kw = dict(method='auto', pixels=cpix, support=sup, chunk_size=None) if backward == 'auto' else dict(method='batched', pixels=pix, chunk_size=B)
        ext = JacobianBlocks(model, img, backward=backward, **kw)
        sync(dev); setup[backward] = (time.perf_counter() - t, ext.info)
        t = time.perf_counter()
        for _ in ext: pass
        sync(dev); return time.perf_counter() - t
    def plain():
        with exact_settings(model):
            _, fn = vjp(f, x)
            sync(dev); t = time.perf_counter()
            for c in cots: vmap(fn)(c)
            sync(dev); return time.perf_counter() - t
    def original():
        with exact_settings(model):
            xg = x.clone().requires_grad_()
            p = f(xg)
            sync(dev); t = time.perf_counter()
            for i, j in opix.tolist(): torch.autograd.grad(p[i, j], xg, retain_graph=True)
            sync(dev); return time.perf_counter() - t
    def forward(m, xx):
        def run():
            with torch.no_grad(), exact_settings(m):
                sync(dev); t = time.perf_counter()
                for _ in cots: m(xx)
                sync(dev); return time.perf_counter() - t
        return run
    ways = {'engine': (lambda: engine('auto'), len(cpix)), 'engine, autograd': (lambda: engine('autograd'), n), 'plain VJP': (plain, n),
            'original': (original, len(opix)), 'forward, contiguous': (forward(model, xb), B * len(cots)),
            'forward, channels_last': (forward(mcl, xcl), B * len(cots))}
    for fn, _ in ways.values(): fn()                                    # warm-up
    times = {k: [] for k in ways}
    for _ in range(a.rounds):
        for k, (fn, m) in ways.items(): times[k].append(fn() / m)
    per = {k: statistics.median(v) for k, v in times.items()}
    info = setup['auto'][1]
    fwd_best = min(per['forward, contiguous'], per['forward, channels_last'])
    classes = math.prod(colour_spacing(sup.shape))
    per_pass = per['engine'] * len(cpix) / info['n_backward']                    # seconds of one of the engine's passes
    field_h = classes * per_pass * (FIELD[0] * FIELD[1]) / (size * size) / 3600
    return dict(width=width, size=size, gflop=flops / 1e9, passes=n, engine_chunk=info['chunk_size'], rows_per_pass=len(cpix) / info['n_backward'], chunk=B,
                orig_rows=len(opix), engine_method=info['method'],
                ms_per_row={k: 1e3 * v for k, v in per.items()}, rounds={k: [1e3 * t for t in v] for k, v in times.items()},
                engine_way=f"{info['backward']}/{info['memory_format']}", engine_reason=info['backward_reason'],
                setup_s=setup['auto'][0], vs_original=per['original'] / per['engine'], vs_plain=per['plain VJP'] / per['engine'],
                vs_autograd_engine=per['engine, autograd'] / per['engine'], of_forward=fwd_best / per['engine'],
                gflops={k: flops / 1e9 / v for k, v in per.items()}, whole_field_hours=field_h, colour_classes=classes)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--widths', type=int, nargs='+', default=[8, 16, 64]); p.add_argument('--sizes', type=int, nargs='+', default=[48, 128, 256])
    p.add_argument('--rows', type=int, default=64, help='most backward passes timed per way and round')
    p.add_argument('--min-rows', type=int, default=8, help='fewest passes (width 64 at 256x256: ~1 s each on a CPU core)')
    p.add_argument('--seconds', type=float, default=1.0, help='passes per way: about this long at 50 GFLOP/s')
    p.add_argument('--orig-rows', type=int, default=16); p.add_argument('--chunk', type=int, default=16)
    p.add_argument('--rounds', type=int, default=5); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--device', default='cpu'); p.add_argument('--out', default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    env = dict(torch=torch.__version__, python=platform.python_version(), device=torch.cuda.get_device_name(dev) if dev.type == 'cuda' else
               next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.machine()),
               threads=torch.get_num_threads(), date=time.strftime('%Y-%m-%d'))
    print(f"# {env}; rounds {a.rounds}, chunk {a.chunk}", flush=True)
    print('| width | image | GFLOP/image | engine way | rows/pass | engine ms/row | engine rows/s | engine (autograd) ms/row | plain VJP ms/row | original ms/row | '
          'forward ms/image (contig. / ch.-last) | engine vs original | engine vs plain VJP | engine GFLOP/s / forward GFLOP/s | whole field, h |', flush=True)
    print('|' + '---|' * 15, flush=True)
    res = []
    for w in a.widths:
        for s in a.sizes:
            r = config(w, s, a, dev)
            res.append(r)
            m = r['ms_per_row']
            print(f"| {w} | {s}² | {r['gflop']:.3f} | {r['engine_method']}, {r['engine_way']} | {r['rows_per_pass']:.2f} | {m['engine']:.3g} | {1e3 / m['engine']:.0f} | {m['engine, autograd']:.3g} | "
                  f"{m['plain VJP']:.3g} | {m['original']:.3g} | {m['forward, contiguous']:.3g} / {m['forward, channels_last']:.3g} | "
                  f"{r['vs_original']:.2f}x | {r['vs_plain']:.2f}x | {r['of_forward']:.2f} | {r['whole_field_hours']:.1f} |", flush=True)
            if a.out: open(a.out, 'w').write(json.dumps(dict(env=env, args=vars(a), results=res), indent=1))

if __name__ == '__main__': main()
