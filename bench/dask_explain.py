"""Throughput of vessnb.distributed.explain_dataset: images/s in-process, and with 1 and 2 Dask worker processes
sharing one device. Usage:
    python bench/dask_explain.py [--device cuda] [--n 8] [--size 64] [--width 8] [--threads 1] [--workers 0 1 2]
On a GPU machine every worker process uses the same GPU (`--device cuda`); with dask-cuda and several GPUs use
one worker per GPU instead (LocalCUDACluster). Prints one markdown table row per worker count."""
import argparse, shutil, tempfile, time
from pathlib import Path
import torch

from vessnb.data import make_synthetic_vessmap, list_names
from vessnb.model import VessNet, save_checkpoint
from vessnb.distributed import explain_dataset, local_cluster

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--device', default='cpu'); p.add_argument('--n', type=int, default=8)
    p.add_argument('--size', type=int, default=64); p.add_argument('--width', type=int, default=8)
    p.add_argument('--threads', type=int, default=1); p.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    tmp = Path(tempfile.mkdtemp(prefix='vessnb-bench-dist-'))
    try:
        data = make_synthetic_vessmap(tmp/'data', n=a.n, size=a.size, seed=0)
        torch.manual_seed(0)
        ckpt = save_checkpoint(tmp/'m.pt', VessNet(width=a.width))
        dev = torch.cuda.get_device_name() if a.device.startswith('cuda') else f'CPU, {a.threads} thread(s) per worker'
        print(f'| workers | images | size | width | device | seconds | images/s |')
        print(f'|---|---|---|---|---|---|---|')
        for w in a.workers:
            client = cluster = None
            if w:
                from distributed import Client
                cluster = local_cluster(w, a.threads, silence_logs=50); client = Client(cluster)
                # warm-up: start the workers' torch/CUDA and load the model once per worker, outside the timing
                explain_dataset(ckpt, data, tmp/f'warm{w}.zarr', client=client, names=list_names(data)[:w],
                                device=a.device, progress=False)
            else:
                explain_dataset(ckpt, data, tmp/'warm0.zarr', names=list_names(data)[:1], device=a.device, progress=False)
            t = time.perf_counter()
            r = explain_dataset(ckpt, data, tmp/f's{w}.zarr', client=client, device=a.device, threads=a.threads,
                                progress=False)
            s = time.perf_counter() - t
            if client is not None: client.close(); cluster.close()
            print(f'| {w or "in-process"} | {len(r["done"])} | {a.size}x{a.size} | {a.width} | {dev} | {s:.2f} | {len(r["done"]) / s:.2f} |',
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__': main()     # worker processes are spawned: they must not re-run the benchmark
