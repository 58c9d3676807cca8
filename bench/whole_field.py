"""Benchmark: a whole 1104 x 1376 field of view against 512-px tiles, in one run on one device (issue 14).

Measured, each in a fresh subprocess so that its peak memory is its own (CPU: peak RSS of the process; CUDA: the
allocator's high-water mark):

- set-up: the forward pass, the window measurement and the plan of an exact extraction (`JacobianBlocks`), for the
  whole field and for one 512 x 512 tile;
- colouring: the time of --blocks colour classes after one warm-up class (one class a block), per row of the whole
  extraction (class time x classes / rows: first classes hold more rows than the average one), and the time of the
  class's backward pass alone on the whole field and on
  the tile (`JacobianBlocks.next_windows`, rows as windows), median over --repeats;
- segmentation: whole image against 512-px tiles with receptive-field margins (`segment_tiled`): max |difference|;
- a preview: `JacobianStore.write` with --sampling-rate on the whole field, the estimate it logs after its first
  four blocks against the measured time of the whole preview, and its influence map (`influence_map` on the sampled
  grid), drawn into --out;
- the estimate of the full exact extraction of the field (rows, store size, time from the measured rate).

The model is an untrained width-16 VessNet with a fixed seed (weights do not change the cost), the image a
synthetic field. Example (CPU, one thread, as the issue measured):
    python bench/whole_field.py --threads 1 --blocks 3 --repeats 3 --sampling-rate 25 --out bench/out/whole_field
"""
import argparse, json, platform, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

H, W, TILE = 1104, 1376, 512


def field(seed=0):
    from vessnb.data import synthetic_item
    img = synthetic_item(W, seed)[0].astype(np.float32) / 255
    return torch.from_numpy(np.ascontiguousarray(img[:H, :W]))


def model(width, device):
    from vessnb.model import VessNet
    torch.manual_seed(0)
    return VessNet(width=width).eval().to(device)


def peak_bytes(device):
    if torch.device(device).type == 'cuda': return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def phase(a):
    "One measurement in this process; prints a JSON line."
    from vessnb.jacobian import JacobianBlocks, exact_settings, _onehots, _colour_keys, _vjp_chunks
    torch.set_num_threads(a.threads)
    net, img = model(a.width, a.device), field().to(a.device)
    if a.phase == 'tile': img = img[:TILE, :TILE].contiguous()
    base = peak_bytes(a.device)
    t0 = time.perf_counter()
    ext = JacobianBlocks(net, img, method='colour', chunk_size=1)
    setup = time.perf_counter() - t0
    out = dict(phase=a.phase, shape=list(img.shape), setup_s=setup, setup_peak_bytes=peak_bytes(a.device),
               base_peak_bytes=base, support=ext.info['support'], n_blocks=len(ext), n_pixels=ext.n_pixels)
    times, vjps = [], []
    ext.next_windows()                                   # one block to warm up (allocator, kernels), not timed
    for _ in range(a.blocks):
        pix = ext.blocks[ext._k]
        _, inv = torch.unique(_colour_keys(pix.to(img.device), ext.spacing), return_inverse=True)
        cot = _onehots(pix.to(img.device), ext.out.shape, ext.out.dtype, img.device, inv, 1)
        t = time.perf_counter()
        with exact_settings(net): _vjp_chunks(ext.vjp_fn, cot, {'chunk': 1})       # the backward pass alone
        vjps.append(time.perf_counter() - t)
        t = time.perf_counter(); pix, off, win = ext.next_windows(); times.append(time.perf_counter() - t)
    rows_per_class = ext.n_pixels / ext.info['n_backward']          # on average over the whole extraction
    out.update(per_class_s=times, vjp_s=vjps, rows_timed=len(pix), rows_per_class=rows_per_class,
               per_row_s=[t / rows_per_class for t in times], peak_bytes=peak_bytes(a.device), window=list(win.shape[-2:]))
    print(json.dumps(out))


def sub(a, name):
    cmd = [sys.executable, __file__, '--phase', name, '--threads', str(a.threads), '--width', str(a.width),
           '--device', a.device, '--blocks', str(a.blocks)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise SystemExit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def preview(a, out):
    import logging
    from vessnb.core import logger
    from vessnb.jacobian import JacobianStore, JacobianBlocks
    from vessnb.threshold import influence_map, plot_influence
    from vessnb.distributed import segment_image
    from vessnb.data import save_figure
    torch.set_num_threads(a.threads)
    net, img = model(a.width, a.device), field().to(a.device)
    t = time.perf_counter(); whole = segment_image(net, img); t_whole = time.perf_counter() - t
    t = time.perf_counter(); tiled = segment_image(net, img, tile=TILE); t_tiled = time.perf_counter() - t
    lines = []
    class Keep(logging.Handler):
        def emit(self, r): lines.append(r.getMessage())
    logger.addHandler(Keep())
    with tempfile.TemporaryDirectory() as d:
        js = JacobianStore(Path(d)/'s.zarr')
        t = time.perf_counter()
        at = js.write('field', net, img, sampling_rate=a.sampling_rate, chunk_size=1)
        measured = time.perf_counter() - t
        inf = influence_map(js, 'field')
        fig = plot_influence(inf, image=img.cpu(), title=f'{H}x{W} field')
        out.mkdir(parents=True, exist_ok=True); save_figure(fig, out/'preview_map.png')
        full = JacobianBlocks(net, img, method='colour', support=at['support'], chunk_size=1)
    return dict(seg_whole_s=t_whole, seg_tiled_s=t_tiled, seg_max_abs_diff=float((whole - tiled).abs().max()),
                preview=dict(sampling_rate=a.sampling_rate, n_pixels=at['n_pixels'], n_blocks=at['n_blocks'],
                             estimate_s=at['estimate']['seconds'], first_block_s=at['estimate']['seconds_first_block'],
                             estimate_from_blocks=at['estimate']['from_blocks'],
                             measured_rows_s=at['seconds_rows'], measured_write_s=measured,
                             map_shape=list(inf.counts.shape[1:]), max_abs=inf.max_abs, log=lines),
                full=dict(n_pixels=full.n_pixels, n_blocks=len(full), **full.estimate('float16')))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--phase', choices=('whole', 'tile'), help=argparse.SUPPRESS)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--width', type=int, default=16)
    p.add_argument('--device', default='cpu')
    p.add_argument('--blocks', type=int, default=3, help='colour classes timed per repeat')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--sampling-rate', type=int, default=25)
    p.add_argument('--out', default='bench/out/whole_field')
    a = p.parse_args()
    if a.phase: return phase(a)
    out = Path(a.out)
    runs = [(sub(a, 'whole'), sub(a, 'tile')) for _ in range(a.repeats)]      # interleaved: whole, tile, whole, tile ...
    med = lambda xs: statistics.median(xs)
    w_rate = [med(w['per_row_s']) for w, _ in runs]; t_rate = [med(t['per_row_s']) for _, t in runs]
    res = dict(device=a.device if a.device != 'cpu' else f'cpu ({platform.processor() or platform.machine()})',
               torch=torch.__version__, python=platform.python_version(), threads=a.threads, width=a.width,
               command=' '.join(sys.argv), runs=runs,
               per_row_whole_s=med(w_rate), per_row_tile_s=med(t_rate), per_row_ratio=med(w_rate) / med(t_rate),
               vjp_per_pixel_ratio=med([med(w['vjp_s']) / (H * W) for w, _ in runs]) / med([med(t['vjp_s']) / TILE ** 2 for _, t in runs]),
               overhead_whole=med([med(w['per_class_s']) / med(w['vjp_s']) for w, _ in runs]),
               setup_whole_s=med([w['setup_s'] for w, _ in runs]), setup_tile_s=med([t['setup_s'] for _, t in runs]),
               setup_peak_whole_gib=max(w['setup_peak_bytes'] for w, _ in runs) / 2**30,
               setup_peak_tile_gib=max(t['setup_peak_bytes'] for _, t in runs) / 2**30,
               peak_whole_gib=max(w['peak_bytes'] for w, _ in runs) / 2**30, **preview(a, out))
    out.mkdir(parents=True, exist_ok=True)
    (out/'whole_field.json').write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != 'runs'}, indent=1))


if __name__ == '__main__':
    main()
