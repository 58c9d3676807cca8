"""The explorer on images larger than a crop: rows cut into band files loaded on demand, against the one-file page
(every band inside the image's script) of the same image, which is what the page would have to load without bands.

Usage:
  python bench/explorer.py --checkpoint runs/default/checkpoints/best.pt --sizes 64 128 --repeats 5
  python bench/explorer.py --checkpoint CKPT --vessmap ../shared/vessmap --sizes 256 --device cuda

Per size: explain one image (a synthetic vessel image of that size, or the first VessMap test image centre-cropped),
write both explorers, then in headless Chromium (Debian's chromium + playwright) measure, as the median of
`--repeats` fresh browser contexts: opening the page until the first pixel is drawn, a click on a pixel whose band
is not loaded yet (cold), a click on its neighbour (warm), and one slider step (whole influence map redrawn).
Pages open from file:// by default; `--mbps X` serves them over local HTTP with Chromium's network emulation
(X Mbit/s down, 20 ms latency), as from a static host. With `--crops N` it also times a page holding N default-size 64 x 64 crops (synthetic seeds 0..N-1) against the page
of the first crop alone. With `--baseline REV` each page is also written by the explorer of git revision REV
(its `vessnb/` taken with `git archive`, run in a subprocess on the same store) and timed the same way: the exact
page of issue 15 against the int8 page before it (`--baseline d73b80f`). Prints markdown table rows.
"""
import argparse, functools, http.server, json, os, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path
import numpy as np, torch
from vessnb.data import synthetic_item, centre_crop, load_image, read_split_files, image_path
from vessnb.model import load_checkpoint
from vessnb.jacobian import JacobianStore
from vessnb.explorer import write_explorer, find_browser, band_file, CHROMIUM_ARGS

ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
ap.add_argument('--checkpoint', required=True)
ap.add_argument('--sizes', type=int, nargs='+', default=[64, 128])
ap.add_argument('--vessmap', default=None, help='take the first test image of this VessMap folder instead of a synthetic one')
ap.add_argument('--device', default='cpu')
ap.add_argument('--repeats', type=int, default=5)
ap.add_argument('--threads', type=int, default=None)
ap.add_argument('--out', default=None, help='keep the run folders here (default: a temporary folder); '
                'a folder from an earlier call is reused: its complete Jacobians are not computed again (time ~0)')
ap.add_argument('--mbps', type=float, default=0, help='serve over local HTTP throttled to this many Mbit/s (0: file://)')
ap.add_argument('--crops', type=int, default=0, help='also: a page of this many 64 x 64 crops against a page of one of them')
ap.add_argument('--baseline', default=None, help="also time the pages written by this git revision's explorer")
args = ap.parse_args()
if args.threads: torch.set_num_threads(args.threads)
why = find_browser()
if why: sys.exit(f'no browser: {why}')
from playwright.sync_api import sync_playwright

model, _ = load_checkpoint(args.checkpoint, map_location=args.device)
root = Path(args.out or tempfile.mkdtemp(prefix='vessnb-bench-explorer-'))

def image_of(size):
    if args.vessmap is None: return f'synthetic_{size}', synthetic_item(size, 0)[0].astype(np.float32) / 255
    name = read_split_files(args.vessmap)['test'][0]
    return f'{name}_{size}', centre_crop(load_image(image_path(args.vessmap, name)), size)

def baseline_writer(rev):
    "A function writing an explorer with revision `rev`'s code (in a subprocess), or None without --baseline."
    if rev is None: return None
    code = Path(tempfile.mkdtemp(prefix='vessnb-baseline-'))
    subprocess.run(f'git archive {rev} vessnb | tar -x -C {code}', shell=True, check=True, cwd=Path(__file__).resolve().parents[1])
    def write(rd, out, **kw):
        subprocess.run([sys.executable, '-c', f'from vessnb.explorer import write_explorer; write_explorer({str(Path(rd).resolve())!r}, out={str(Path(out).resolve())!r}, **{kw!r})'],
                       check=True, env=dict(os.environ, PYTHONPATH=str(code)), cwd=code)
        return Path(out)/'index.html'
    return write
baseline = baseline_writer(args.baseline)

server = None
if args.mbps:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()

def page_times(pw, index_html, size):
    br = pw.chromium.launch(executable_path='/usr/bin/chromium', args=CHROMIUM_ARGS)
    try:
        ctx = br.new_context(viewport={'width': 1200, 'height': 700})    # a fresh context: nothing cached
        page = ctx.new_page()
        url = Path(index_html).resolve().as_uri()
        if server:
            url = f'http://127.0.0.1:{server.server_address[1]}/{Path(index_html).resolve().relative_to(root.resolve())}'
            cdp = ctx.new_cdp_session(page)
            cdp.send('Network.enable')
            cdp.send('Network.emulateNetworkConditions', dict(offline=False, latency=20, downloadThroughput=args.mbps * 1e6 / 8,
                                                             uploadThroughput=args.mbps * 1e6 / 8))
        t = time.perf_counter()
        page.goto(url)
        page.wait_for_selector('body[data-ready="0"]', timeout=120000)
        t_open = time.perf_counter() - t
        box = page.locator('#w-image').bounding_box()
        def click(i, j):
            t = time.perf_counter()
            page.mouse.click(box['x'] + (j + 0.5) * box['width'] / size, box['y'] + (i + 0.5) * box['height'] / size)
            page.wait_for_function(f'document.getElementById("stats").dataset.i === "{i}" && '
                                   f'document.getElementById("stats").dataset.j === "{j}"', timeout=120000)
            return time.perf_counter() - t
        t_cold, t_warm = click(size - 2, size // 3), click(size - 2, size // 3 + 1)
        t_slider = page.evaluate("""() => { const s = document.getElementById('threshold'), D = window.VESSNB_DATA, t = performance.now();
            s.value = D.proportions ? String(D.proportions.indexOf(0.05)) : '0.05';    // the exact page's slider moves by position
            s.dispatchEvent(new Event('input')); return (performance.now() - t) / 1000; }""")
        assert page.inner_text('#msg') == '', page.inner_text('#msg')
        return t_open, t_cold, t_warm, t_slider
    finally: br.close()

from importlib.metadata import version
import subprocess
chromium = subprocess.run(['/usr/bin/chromium', '--version'], capture_output=True, text=True).stdout.strip()
print(f'torch {torch.__version__}, playwright {version("playwright")}, chromium {chromium}, device {args.device}, checkpoint {args.checkpoint}, '
      f'repeats {args.repeats}, ' + (f'HTTP at {args.mbps:g} Mbit/s' if args.mbps else 'file://'))
print('| image | Jacobian (s) | variant | write (s) | image script | band files | loaded to first draw | all files | open (s) | click, band not loaded (s) | click, warm (s) | slider step (s) | open: one file / this |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
with sync_playwright() as pw:
    for size in args.sizes:
        name, img = image_of(size)
        rd = root/name; rd.mkdir(parents=True, exist_ok=True)
        js = JacobianStore(rd/'jacobians.zarr')
        t = time.perf_counter()
        js.write(name, model, torch.from_numpy(np.ascontiguousarray(img)).to(args.device), progress=False)
        t_jac = time.perf_counter() - t
        res = {}
        variants = [('one file', size * size, write_explorer), ('bands', 0, write_explorer)]   # one file: every band in the image script
        if baseline: variants.append((f'{args.baseline}, bands', 0, baseline))
        for variant, max_rows, writer in variants:
            t = time.perf_counter()
            index = writer(rd, out=rd/variant.replace(' ', '_').replace(',', ''), max_rows=max_rows)
            t_write = time.perf_counter() - t
            meta = json.loads((index.parent/'explorer.json').read_text())
            runs = [page_times(pw, index, size) for _ in range(args.repeats)]
            med = [statistics.median(r[k] for r in runs) for k in range(4)]
            res[variant] = med
            ratio = res['one file'][0] / med[0]
            total = sum(f.stat().st_size for f in index.parent.rglob('*.js')) + index.stat().st_size
            m = meta['images'][name]
            first = meta['bytes']['explorer_data.js'] + meta['bytes']['images'][0] + (0 if m['inline'] else
                    (index.parent/band_file(0, (size // 2) // m['band_rows'])).stat().st_size)
            print(f'| {name} {size}x{size} | {t_jac:.1f} | {variant} (band_rows {meta["images"][name]["band_rows"]}) | {t_write:.2f} '
                  f'| {meta["bytes"]["images"][0] / 1e6:.2f} MB | {meta["bytes"]["bands"] / 1e6:.2f} MB in '
                  f'{meta["images"][name]["n_bands"] if not meta["images"][name]["inline"] else 0} | {first / 1e6:.2f} MB | {total / 1e6:.2f} MB | {med[0]:.2f} | {med[1]:.3f} '
                  f'| {med[2]:.3f} | {med[3]:.3f} | {ratio:.1f}x |', flush=True)
    if args.crops:
        rd = root/f'crops_{args.crops}'; rd.mkdir(parents=True, exist_ok=True)
        js = JacobianStore(rd/'jacobians.zarr')
        names = [f'crop_{k:02d}' for k in range(args.crops)]
        for k, n in enumerate(names):
            js.write(n, model, torch.from_numpy(synthetic_item(64, k)[0].astype(np.float32) / 255).to(args.device))
        print(f'\n| page | images | data script | image scripts | loaded to first draw | open (s) | one crop / this (open) |')
        print('|---|---|---|---|---|---|---|')
        res = {}
        pages = [('one crop', names[:1], write_explorer), (f'{args.crops} crops', names, write_explorer)]
        if baseline: pages.append((f'{args.crops} crops, {args.baseline}', names, baseline))
        for label, sel, writer in pages:
            index = writer(rd, out=rd/label.replace(' ', '_').replace(',', ''), names=sel)
            meta = json.loads((index.parent/'explorer.json').read_text())
            res[label] = statistics.median(page_times(pw, index, 64)[0] for _ in range(args.repeats))
            first = meta['bytes']['explorer_data.js'] + meta['bytes']['images'][0]
            print(f'| {label} | {len(sel)} | {meta["bytes"]["explorer_data.js"] / 1e3:.1f} kB | {sum(meta["bytes"]["images"]) / 1e6:.2f} MB '
                  f'| {first / 1e6:.2f} MB | {res[label]:.2f} | {res["one crop"] / res[label]:.1f}x |', flush=True)
