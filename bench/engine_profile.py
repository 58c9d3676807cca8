"""Where the exact Jacobian engine's time goes on a CPU core, against a plain vmapped VJP (issue 29, step 1).

One process, one torch thread, one image: every way below computes the same rows (all output pixels, batched
method, `--chunk` cotangents a pass) and is timed interleaved, round by round; the table reports medians.

  engine            `JacobianBlocks(method='batched', chunk_size=chunk)` iterated to the end (what `write` runs)
  engine, no bar    the same with the progress bar off
  engine, own chunk the engine with the chunk it sizes itself (`auto_chunk`: up to 256 on a CPU)
  compute_windows   the engine's block function alone, called on its planned blocks
  plain vjp         `vjp(f, x)` once, then `vmap(vjp_fn)` over one-hot cotangents built the simplest way
  plain, pre-built  the same with every cotangent built before the clock starts (the backward passes alone)
  ..., channels_last the pre-built passes with model and image in channels_last
  one-hots          building the engine's cotangents alone (`_onehots`)
  forward batch     a forward pass of `chunk` copies of the image, contiguous and channels_last (the framework's rate)

    python bench/engine_profile.py --width 16 --size 48 --chunk 64 --rounds 7
"""
import argparse, json, platform, statistics, time
import torch
from torch.func import vjp, vmap
from vessnb.model import VessNet
from vessnb.jacobian import JacobianBlocks, target_map, exact_settings, _onehots, model_input

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--width', type=int, default=16); p.add_argument('--size', type=int, default=48)
    p.add_argument('--chunk', type=int, default=64); p.add_argument('--rounds', type=int, default=7)
    p.add_argument('--threads', type=int, default=1); p.add_argument('--out', default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    model, img = VessNet(width=a.width).eval(), torch.rand(a.size, a.size)
    x, fmap = model_input(model, img), target_map(model, None)
    f = lambda z: fmap(z)[0]
    H = W = a.size
    n = H * W
    pix = torch.stack(torch.meshgrid(torch.arange(H), torch.arange(W), indexing='ij'), -1).reshape(-1, 2)

    def engine(progress=True, chunk=a.chunk):
        ext = JacobianBlocks(model, img, method='batched', chunk_size=chunk, progress=progress)
        for _ in ext: pass
    def windows():
        for b in blocks: ext0.compute_windows(b)
    def plain():
        with exact_settings(model):
            _, fn = vjp(f, x)
            for k in range(0, n, a.chunk):
                c = torch.zeros(min(a.chunk, n - k), H * W); c[torch.arange(len(c)), torch.arange(k, k + len(c))] = 1
                vmap(fn)(c.reshape(-1, H, W))
    cots = [torch.eye(n)[k:k + a.chunk].reshape(-1, H, W) for k in range(0, n, a.chunk)]
    def plain_prebuilt():
        with exact_settings(model):
            _, fn = vjp(f, x)
            for c in cots: vmap(fn)(c)
    def plain_cl():                    # the same passes with the model and the image in channels_last
        fcl = lambda z: target_map(mcl, None)(z)[0]
        with exact_settings(mcl):
            _, fn = vjp(fcl, x.contiguous(memory_format=torch.channels_last))
            for c in cots: vmap(fn)(c)
    def onehots():
        for b in blocks: _onehots(b, (H, W), torch.float32, x.device)
    xb = x.expand(a.chunk, -1, -1, -1).contiguous()
    xcl = xb.contiguous(memory_format=torch.channels_last)
    mcl = VessNet(width=a.width).eval().to(memory_format=torch.channels_last); mcl.load_state_dict(model.state_dict())
    def fwd():
        with torch.no_grad(), exact_settings(model): model(xb)
    def fwd_cl():
        with torch.no_grad(), exact_settings(mcl): mcl(xcl)
    ext0 = JacobianBlocks(model, img, method='batched', chunk_size=a.chunk)
    blocks = ext0.blocks
    n_pass = -(-n // a.chunk)
    auto = JacobianBlocks(model, img, method='batched').state['chunk']
    ways = {'engine': (engine, n), 'engine, no bar': (lambda: engine(False), n), f'engine, its own chunk ({auto})': (lambda: engine(True, None), n), 'compute_windows': (windows, n),
            'plain vjp': (plain, n), 'plain, pre-built': (plain_prebuilt, n), 'plain, pre-built, channels_last': (plain_cl, n), 'one-hots': (onehots, n),
            'forward batch, contiguous': (lambda: [fwd() for _ in range(n_pass)], n), 'forward batch, channels_last': (lambda: [fwd_cl() for _ in range(n_pass)], n)}
    for fn, _ in ways.values(): fn()                                   # warm-up
    times = {k: [] for k in ways}
    for _ in range(a.rounds):
        for k, (fn, _) in ways.items():
            t = time.perf_counter(); fn(); times[k].append(time.perf_counter() - t)
    base = statistics.median(times['plain, pre-built'])
    rows = {k: dict(ms_per_row=1e3 * statistics.median(v) / ways[k][1], vs_plain_prebuilt=statistics.median(v) / base) for k, v in times.items()}
    print(f"VessNet width {a.width}, {a.size}x{a.size}, chunk {a.chunk}, {a.threads} thread(s), {a.rounds} rounds; torch {torch.__version__}, "
          f"Python {platform.python_version()}, {platform.processor() or platform.machine()}")
    print('| way | ms per row (median) | time / plain pre-built |\n|---|---|---|')
    for k, r in rows.items(): print(f"| {k} | {r['ms_per_row']:.3f} | {r['vs_plain_prebuilt']:.2f} |")
    if a.out: open(a.out, 'w').write(json.dumps(dict(args=vars(a), rows=rows, times=times), indent=1))

if __name__ == '__main__': main()
