"""Jacobian rows per second on one device: vessnb's engine against a plain vmapped VJP, the original per-pixel call
and the batched forward pass, for VessNet widths x image sizes (issue 29).

For each width W and size S (a seeded, untrained VessNet with trained-like batch-norm statistics; a uniform random
S x S image), the same rows are timed, interleaved round by round, medians of --rounds rounds:

  engine            `JacobianBlocks(..., method='batched', backward='auto')` iterated over --rows output pixels
                    (its set-up -- forward pass, the adjoint's check and the timing that picks the way -- excluded;
                    reported on its own as `setup s`); the way it chose is printed
  engine, autograd  the same with backward='autograd' (the engine before issue 29)
  plain VJP         `vjp` once, then `vmap(vjp_fn)` over pre-built one-hot cotangents, --chunk at a time
  original          one `torch.autograd.grad(p[i, j], x, retain_graph=True)` per output pixel on one graph (the
                    original project's call), on --orig-rows pixels
  forward           a forward pass of --chunk copies of the image, contiguous and channels_last (no grad): the
                    framework's own rate at this shape

GFLOP/s: the FLOPs torch's FlopCounterMode counts for one forward pass of one image (convolutions), per row or per
image; a row's backward pass does the same convolutions transposed. `whole field`: the hours one 1104x1376 field
would take on this device by colouring (passes = the colour classes of the receptive-field window, each pass
costing one row at this size scaled by the field's area), from the engine's rate here.

    python bench/engine_speed.py --threads 1 --widths 8 16 64 --sizes 48 128 256 --out bench/out/engine_speed.json
"""
import argparse, json, math, platform, statistics, time
import torch
from torch import nn
from torch.func import vjp, vmap
from torch.utils.flop_counter import FlopCounterMode
from vessnb.model import VessNet, receptive_field
from vessnb.jacobian import JacobianBlocks, colour_spacing, exact_settings, _onehots

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
    B, n = a.chunk, a.rows
    pix = torch.randperm(size * size, generator=torch.Generator().manual_seed(1))[:n]
    pix = torch.stack([pix // size, pix % size], 1)
    opix = pix[:a.orig_rows]
    cots = [_onehots(pix[k:k + B].to(dev), (size, size), torch.float32, dev) for k in range(0, n, B)]
    mcl = VessNet(width=width).to(dev).eval().to(memory_format=torch.channels_last); mcl.load_state_dict(model.state_dict())
    xb, setup = x.expand(B, -1, -1, -1).contiguous(), {}
    xcl = xb.contiguous(memory_format=torch.channels_last)
    f = lambda z: model(z).softmax(1)[0, 1]

    def engine(backward):
        sync(dev); t = time.perf_counter()
        ext = JacobianBlocks(model, img, method='batched', chunk_size=B, pixels=pix, backward=backward)
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
    ways = {'engine': (lambda: engine('auto'), n), 'engine, autograd': (lambda: engine('autograd'), n), 'plain VJP': (plain, n),
            'original': (original, len(opix)), 'forward, contiguous': (forward(model, xb), B * len(cots)),
            'forward, channels_last': (forward(mcl, xcl), B * len(cots))}
    for fn, _ in ways.values(): fn()                                    # warm-up
    times = {k: [] for k in ways}
    for _ in range(a.rounds):
        for k, (fn, m) in ways.items(): times[k].append(fn() / m)
    per = {k: statistics.median(v) for k, v in times.items()}
    info = setup['auto'][1]
    fwd_best = min(per['forward, contiguous'], per['forward, channels_last'])
    sup = receptive_field(model)
    classes = math.prod(colour_spacing((sup, sup)))
    field_h = classes * per['engine'] * (FIELD[0] * FIELD[1]) / (size * size) / 3600
    return dict(width=width, size=size, gflop=flops / 1e9, rows=n, chunk=B, orig_rows=len(opix),
                ms_per_row={k: 1e3 * v for k, v in per.items()}, rounds={k: [1e3 * t for t in v] for k, v in times.items()},
                engine_way=f"{info['backward']}/{info['memory_format']}", engine_reason=info['backward_reason'],
                setup_s=setup['auto'][0], vs_original=per['original'] / per['engine'], vs_plain=per['plain VJP'] / per['engine'],
                vs_autograd_engine=per['engine, autograd'] / per['engine'], of_forward=fwd_best / per['engine'],
                gflops={k: flops / 1e9 / v for k, v in per.items()}, whole_field_hours=field_h, colour_classes=classes)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--widths', type=int, nargs='+', default=[8, 16, 64]); p.add_argument('--sizes', type=int, nargs='+', default=[48, 128, 256])
    p.add_argument('--rows', type=int, default=64, help='output pixels timed per way and round (default 64; fewer on big shapes: --rows-big)')
    p.add_argument('--rows-big', type=int, default=16, help='rows when width x size^2 > 2^20 (width 64 at 256: ~1 s a row on a CPU core)')
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
    print('| width | image | GFLOP/image | engine way | engine ms/row | engine rows/s | engine (autograd) ms/row | plain VJP ms/row | original ms/row | '
          'forward ms/image (contig. / ch.-last) | engine vs original | engine vs plain VJP | engine GFLOP/s / forward GFLOP/s | whole field, h |', flush=True)
    print('|' + '---|' * 14, flush=True)
    res = []
    for w in a.widths:
        for s in a.sizes:
            b = a.rows_big if w * s * s > 2**20 else a.rows
            r = config(w, s, argparse.Namespace(**{**vars(a), 'rows': b, 'orig_rows': min(a.orig_rows, b)}), dev)
            res.append(r)
            m = r['ms_per_row']
            print(f"| {w} | {s}² | {r['gflop']:.3f} | {r['engine_way']} | {m['engine']:.3g} | {1e3 / m['engine']:.0f} | {m['engine, autograd']:.3g} | "
                  f"{m['plain VJP']:.3g} | {m['original']:.3g} | {m['forward, contiguous']:.3g} / {m['forward, channels_last']:.3g} | "
                  f"{r['vs_original']:.2f}x | {r['vs_plain']:.2f}x | {r['of_forward']:.2f} | {r['whole_field_hours']:.1f} |", flush=True)
            if a.out: open(a.out, 'w').write(json.dumps(dict(env=env, args=vars(a), results=res), indent=1))

if __name__ == '__main__': main()
