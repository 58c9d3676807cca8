"Probe: which cuDNN setting makes CUDA rows exact (colouring's zero spill, 256-px error)? One-off experiment (issue 29)."
import sys, time, torch, numpy as np
from vessnb.model import VessNet
from vessnb.data import synthetic_item, centre_crop
from vessnb.jacobian import iter_jacobian_blocks, measure_support
def img(s): return torch.from_numpy(np.ascontiguousarray(centre_crop(synthetic_item(max(s, 64), seed=1)[0].astype(np.float32) / 255, s))).float()
def rows(model, x, method, pix=None, support=None):
    ps, rs = zip(*iter_jacobian_blocks(model, x, method=method, pixels=pix, support=support))
    return torch.cat(ps), torch.cat(rs)
for setting in ('default', 'deterministic', 'no-cudnn'):
    torch.backends.cudnn.deterministic = setting == 'deterministic'; torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.enabled = setting != 'no-cudnn'
    for w, s, n in ((8, 160, None), (64, 256, 256)):
        torch.manual_seed(0); m = VessNet(width=w).cuda().eval(); m64 = VessNet(width=w).double().cuda().eval(); m64.load_state_dict(m.state_dict())
        x = img(s).cuda()
        g = torch.Generator().manual_seed(0)
        pix = torch.unique(torch.stack([torch.randint(0, s, (256,), generator=g), torch.randint(0, s, (256,), generator=g)], 1), dim=0).cuda()
        t = time.time(); sup = measure_support(m, x); ts = time.time() - t
        _, r = rows(m, x, 'batched', pix); torch.cuda.synchronize()
        _, r64 = rows(m64, x.double(), 'batched', pix)
        M = r64.abs().max(); err = float((r.double() - r64).abs().max() / M)
        cd = int(((r.abs() > 0.01 * M.float()).sum((-2, -1)) != (r64.abs() > 0.01 * M).sum((-2, -1))).sum())
        t = time.time(); _, rb = rows(m, x, 'batched', pix); torch.cuda.synchronize(); tb = time.time() - t
        col = 'n/a'
        if sup is not None:
            try:
                t = time.time(); pc, rc = rows(m, x, 'colour', support=sup); torch.cuda.synchronize(); col = f'ok {time.time()-t:.2f}s all {len(pc)} rows'
            except Exception as e: col = f'{type(e).__name__}: {str(e)[:90]}'
        print(f'{setting:<14} w{w} {s}px: support {None if sup is None else (sup.top, sup.bottom)} ({ts:.1f}s)  256 sampled rows err {err:.2e} count diffs {cd}  batched 256 rows {tb:.3f}s  colour: {col}', flush=True)
