"""Train VessNet on real VessMap data with the dataset authors' 40/10/50 split and report the test metrics.

Example (CPU, narrow model, bounded time):
    python bench/train_vessmap.py --data /work/shared/vessmap --width 16 --epochs 60 --crop 64 \
        --batch-size 8 --samples-per-epoch 512 --threads 1 --time-limit 1800 --out /tmp/vessnb-bench/w16

Writes the run folder (checkpoints, history, curves, evaluation.json, summary.json) to --out and prints a
markdown table (pooled and per-image mean +- std of Dice, IoU, clDice, AUC, sensitivity, specificity)
for the model and the global-threshold baseline; the table is also saved as --out/bench.md.
"""
import argparse, json, os, shlex, sys, tempfile, time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default='/work/shared/vessmap', help='VessMap-layout folder with splits/{train,val,test}.txt')
    p.add_argument('--width', type=int, default=16, help='VessNet width (64 = the original network)')
    p.add_argument('--epochs', type=int, default=60)
    p.add_argument('--crop', type=int, default=64, help='training crop (px); evaluation uses whole images')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--samples-per-epoch', type=int, default=512, help='random crops per epoch')
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--optimizer', default='adam', choices=['adam', 'adamw'])
    p.add_argument('--dice-weight', type=float, default=0.0)
    p.add_argument('--patience', type=int, default=5, help='ReduceLROnPlateau patience (epochs)')
    p.add_argument('--amp', action='store_true', help='mixed precision (CUDA only)')
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--time-limit', type=float, default=None, help='stop training after the epoch that passes this many seconds')
    p.add_argument('--annotator1', default='labels_annotator1',
                   help='also score the best model against this label folder of --data (the authors\' labels); "" to skip')
    p.add_argument('--resume', action='store_true', help='continue from --out/checkpoints/last.pt')
    p.add_argument('--out', default=None, help='run folder (default: a new temporary folder)')
    return p.parse_args(argv)


def fmt(r, k):
    "pooled / mean +- std of metric k in a score_images result."
    return f"{r['pooled'][k]:.3f} | {r['mean'][k]:.3f} ± {r['std'][k]:.3f}"


def table(rows):
    keys = ['dice', 'iou', 'cldice', 'auc', 'sensitivity', 'specificity']
    head = '| method | threshold | ' + ' | '.join(f'{k} pooled | {k} mean ± std' for k in keys) + ' |'
    sep = '|' + '---|' * (2 + 2 * len(keys))
    lines = [head, sep]
    for name, thr, r in rows:
        lines.append(f'| {name} | {thr} | ' + ' | '.join(fmt(r, k) for k in keys) + ' |')
    return '\n'.join(lines)


def annotator_root(data, labels):
    "A folder of symlinks: images and splits of `data`, labels from `data/labels` (skeletons recomputed)."
    d = Path(tempfile.mkdtemp(prefix='vessnb-a1-'))
    for sub in ('images', 'splits'): os.symlink(Path(data).resolve()/sub, d/sub)
    os.symlink(Path(data).resolve()/labels, d/'labels')
    return d


def main(argv=None):
    a = parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    from vessnb.data import VessMapDataset, load_split
    from vessnb.model import load_checkpoint
    from vessnb.train import evaluate, evaluate_baseline
    from vessnb.stages import train_stage, data_stage
    from vessnb.config import RunConfig
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix='vessnb-bench-'))
    out.mkdir(parents=True, exist_ok=True)
    cmd = 'python ' + ' '.join(shlex.quote(x) for x in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    t0 = time.perf_counter()
    cfg = RunConfig(run_dir=str(out), data=a.data, epochs=a.epochs, crop=a.crop, batch_size=a.batch_size, lr=a.lr,
                    width=a.width, device=a.device, seed=a.seed, samples_per_epoch=a.samples_per_epoch,
                    dice_weight=a.dice_weight, optimizer=a.optimizer, patience=a.patience, amp=a.amp,
                    channels_last=a.channels_last, time_limit=a.time_limit, threads=a.threads).check()
    s = train_stage(cfg, data_stage(cfg), resume=a.resume)
    ev = json.loads((out/'evaluation.json').read_text())
    bl = ev['baseline']
    rows = [(f"VessNet w{a.width} (best epoch {s['best_epoch']})", ev['model']['threshold'], ev['model']),
            (f"global threshold ({bl['method']}, polarity {bl['polarity']:+d}, fit on train)", f"{bl['threshold']:.3f}", bl)]
    if a.annotator1 and (Path(a.data)/a.annotator1).is_dir():
        root = annotator_root(a.data, a.annotator1)
        split = load_split(out/'split.json')
        test_a1 = VessMapDataset(root, split['test'])
        model, _ = load_checkpoint(out/'checkpoints'/'best.pt', map_location=a.device)
        r1 = evaluate(model, test_a1)
        base = {k: bl[k] for k in ('method', 'polarity', 'threshold')}
        b1 = evaluate_baseline(base, test_a1)
        rows += [(f"VessNet w{a.width}, scored vs {a.annotator1}", r1['threshold'], r1),
                 (f"global threshold, scored vs {a.annotator1}", f"{bl['threshold']:.3f}", b1)]
        s['annotator1'] = dict(model={**r1['pooled'], 'mean': r1['mean'], 'std': r1['std']},
                               baseline={**b1['pooled'], 'mean': b1['mean'], 'std': b1['std']})
    info = dict(command=cmd, device=a.device, threads=a.threads, epochs_run=s['epochs'], best_epoch=s['best_epoch'],
                train_wall_s=s['wall_time_s'], total_wall_s=round(time.perf_counter() - t0, 1),
                parameters=s['parameters'], split=s['split_sizes'], labels='labels/ (train, val and test)')
    md = (f"Command: `{cmd}`\n\n" + '\n'.join(f'- {k}: {v}' for k, v in info.items() if k != 'command') +
          '\n\n' + table(rows) + '\n')
    (out/'bench.md').write_text(md)
    (out/'bench.json').write_text(json.dumps(dict(info=info, summary=s), indent=2, default=str))
    print(md)


if __name__ == '__main__':
    main()
