"""Per-output-pixel time of SmoothGrad and Integrated Gradients: vessnb (batched copies) against Captum
(`NoiseTunnel(Saliency)`, `IntegratedGradients(method='riemann_middle')`) and against vessnb's earlier way (one
exact-row extraction, `jacobian_rows`, per noisy copy or path step), in one run on one device.

    python bench/attributions.py [--width 8] [--size 64] [--pixels 4] [--n 16] [--steps 32] [--repeats 5] [--device cpu]

Each method explains the same `--pixels` output pixels of one image; the time per output pixel is the median over
`--repeats` runs divided by the number of pixels. Integrated Gradients of vessnb and Captum are also compared
entry by entry (they compute the same midpoint sums); SmoothGrad draws its noise differently in the two libraries,
so only its time is compared.
"""
import argparse, json, statistics, sys, time
import torch

def timed(f, repeats):
    out, ts = None, []
    for _ in range(repeats):
        t0 = time.perf_counter(); out = f()
        if torch.cuda.is_available(): torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k, v in dict(width=8, size=64, pixels=4, n=16, steps=32, repeats=5).items(): p.add_argument(f'--{k}', type=int, default=v)
    p.add_argument('--device', default='cpu')
    a = p.parse_args()
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
    from vessnb.model import VessNet
    from vessnb.jacobian import target_map, jacobian_rows, exact_settings
    from vessnb.validate import smoothgrad, integrated_gradients
    torch.manual_seed(0)
    model = VessNet(width=a.width).eval().to(a.device)
    x = torch.rand(a.size, a.size, device=a.device)
    pix = [(int(i), int(j)) for i, j in torch.randint(0, a.size, (a.pixels, 2))]
    std = 0.15 * float(x.max() - x.min())
    fmap = target_map(model)
    def captum_sg():
        with exact_settings(model):
            return [NoiseTunnel(Saliency(lambda z, i=i, j=j: fmap(z)[:, i, j])).attribute(
                x[None, None], nt_type='smoothgrad', nt_samples=a.n, nt_samples_batch_size=a.n, stdevs=std, abs=False)[0, 0]
                for i, j in pix]
    def captum_ig():
        with exact_settings(model):
            return [IntegratedGradients(lambda z, i=i, j=j: fmap(z)[:, i, j]).attribute(
                x[None, None], baselines=torch.zeros_like(x)[None, None], n_steps=a.steps, method='riemann_middle',
                internal_batch_size=a.steps)[0, 0] for i, j in pix]
    def loop_sg():                     # the earlier vessnb: one jacobian_rows call per noisy copy
        gen = torch.Generator().manual_seed(0)
        return sum(jacobian_rows(model, x + std * torch.randn(x.shape, generator=gen).to(x.device), torch.tensor(pix))
                   for _ in range(a.n)) / a.n
    def loop_ig():
        return x * sum(jacobian_rows(model, (k + 0.5) / a.steps * x, torch.tensor(pix)) for k in range(a.steps)) / a.steps
    runs = {'SmoothGrad': {'vessnb': lambda: smoothgrad(model, x, pix, n=a.n, sigma=0.15), 'captum': captum_sg, 'vessnb before (loop)': loop_sg},
            'Integrated Gradients': {'vessnb': lambda: integrated_gradients(model, x, pix, steps=a.steps), 'captum': captum_ig,
                                     'vessnb before (loop)': loop_ig}}
    res = {}
    for method, impls in runs.items():
        res[method] = {}
        for name, f in impls.items():
            t, out = timed(f, a.repeats)
            res[method][name] = dict(seconds_per_pixel=t / a.pixels, out=out)
        print(f"{method}: " + ', '.join(f"{k} {v['seconds_per_pixel'] * 1e3:.1f} ms/pixel" for k, v in res[method].items()), file=sys.stderr)
    ig_v, ig_c = res['Integrated Gradients']['vessnb']['out'], torch.stack(res['Integrated Gradients']['captum']['out'])
    summary = dict(command='python ' + ' '.join(sys.argv), device=a.device, torch=torch.__version__, threads=torch.get_num_threads(),
                   settings=vars(a), ig_max_rel_diff_vs_captum=float((ig_v - ig_c).abs().max() / ig_c.abs().max()),
                   ms_per_pixel={m: {k: round(v['seconds_per_pixel'] * 1e3, 2) for k, v in d.items()} for m, d in res.items()},
                   speedup_vs_captum={m: round(d['captum']['seconds_per_pixel'] / d['vessnb']['seconds_per_pixel'], 2) for m, d in res.items()},
                   speedup_vs_before={m: round(d['vessnb before (loop)']['seconds_per_pixel'] / d['vessnb']['seconds_per_pixel'], 2) for m, d in res.items()})
    import captum; summary['captum'] = captum.__version__
    print(json.dumps(summary, indent=1))

if __name__ == '__main__': main()
