"""Realism benchmark for the synthetic default data set (issue 3, point 4).

Train a VessNet only on images from `vessnb.data.make_synthetic_vessmap`, then measure Dice on the real VessMap
test split (`splits/test.txt`, 50 images, labels/ masks). No real image is seen during training.

    python bench/synthetic_realism.py                      # defaults: ~20 min on one CPU thread
    python bench/synthetic_realism.py --steps 200 --n 40   # smoke test

Writes bench/out/realism/ (git-ignored): the synthetic set, the checkpoint, result.json and a figure.
"""
import argparse, json, math, time, sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vessnb.data import (make_synthetic_vessmap, VessMapDataset, load_item, read_split_files, load_json,
                         save_json, dataset_stats)
from vessnb.model import VessNet


def dice(pred, target):
    pred, target = pred.astype(bool), target.astype(bool)
    s = pred.sum() + target.sum()
    return 1.0 if s == 0 else 2 * (pred & target).sum() / s


def predict(model, img):
    with torch.no_grad():
        x = torch.from_numpy(img)[None, None]
        return torch.softmax(model(x), 1)[0, 1].numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--real', default=str(ROOT.parent / 'shared' / 'vessmap'))
    ap.add_argument('--out', default=str(ROOT / 'bench' / 'out' / 'realism'))
    ap.add_argument('--n', type=int, default=300, help='synthetic training images')
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--crop', type=int, default=128)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--steps', type=int, default=4000)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--max-minutes', type=float, default=22.0, help='stop training after this wall time')
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    data = out / 'synthetic'
    meta = load_json(data / 'synthetic.json')
    if not (meta and meta.get('n') == a.n and meta.get('size') == a.size and meta.get('seed') == a.seed):
        make_synthetic_vessmap(data, n=a.n, size=a.size, seed=a.seed, overwrite=True)
    t_gen = time.time() - t0
    print(f'synthetic set: {a.n} x {a.size}^2 in {t_gen:.1f} s', flush=True)

    ds = VessMapDataset(data, crop=a.crop, augment=True, seed=a.seed)
    model = VessNet(width=a.width)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, pct_start=0.1)
    g = torch.Generator().manual_seed(a.seed)
    step, epoch, losses, t_train = 0, 0, [], time.time()
    model.train()
    while step < a.steps and (time.time() - t_train) < a.max_minutes * 60:
        ds.set_epoch(epoch)
        dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, drop_last=True, generator=g)
        for x, y, _ in dl:
            logits = model(x)
            p = torch.softmax(logits, 1)[:, 1]
            inter = (p * y).sum(); soft_dice = 1 - 2 * inter / (p.sum() + y.sum() + 1)
            loss = F.cross_entropy(logits, y) + soft_dice
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            losses.append(loss.item()); step += 1
            if step % 100 == 0:
                print(f'step {step} loss {np.mean(losses[-100:]):.4f} {time.time() - t_train:.0f} s', flush=True)
            if step >= a.steps or (time.time() - t_train) >= a.max_minutes * 60: break
        epoch += 1
    t_train = time.time() - t_train
    torch.save(model.state_dict(), out / 'model.pt')

    model.eval()
    split = read_split_files(a.real)
    res = {}
    probs = {}
    for part in ('val', 'test'):
        probs[part] = [(predict(model, load_item(a.real, n)[0]), load_item(a.real, n)[1]) for n in split[part]]
    ths = np.round(np.r_[0.02, 0.05, np.arange(0.1, 0.91, 0.05)], 2)
    val_dice = [np.mean([dice(p > t, m) for p, m in probs['val']]) for t in ths]
    t_val = float(ths[int(np.argmax(val_dice))])
    test_05 = [dice(p > 0.5, m) for p, m in probs['test']]
    test_val = [dice(p > t_val, m) for p, m in probs['test']]
    pooled = lambda t: dice(np.concatenate([(p > t).ravel() for p, _ in probs['test']]),
                            np.concatenate([m.ravel() for _, m in probs['test']]))
    res = dict(args=vars(a), steps=step, epochs=epoch, train_seconds=round(t_train, 1), gen_seconds=round(t_gen, 1),
               final_loss=float(np.mean(losses[-100:])),
               test_dice_mean_at_0_5=float(np.mean(test_05)), test_dice_median_at_0_5=float(np.median(test_05)),
               test_dice_pooled_at_0_5=float(pooled(0.5)),
               val_threshold=t_val, test_dice_mean_at_val_threshold=float(np.mean(test_val)),
               n_test=len(test_05), labels='labels/ (not labels_annotator1/)',
               synthetic_stats=dataset_stats(data, names=ds.names[:50]))
    save_json(res, out / 'result.json')
    print(json.dumps({k: v for k, v in res.items() if k != 'synthetic_stats'}, indent=1), flush=True)

    try:
        import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
        fig, axs = plt.subplots(3, 6, figsize=(15, 7.5))
        for k in range(6):
            name = split['test'][k]; img, m, _ = load_item(a.real, name); p = probs['test'][k][0]
            for r, (im, t) in enumerate([(img, name), (m, 'label'), (p, f'p  dice {test_05[k]:.2f}')]):
                axs[r, k].imshow(im, cmap='gray'); axs[r, k].set_title(t, fontsize=8); axs[r, k].axis('off')
        fig.savefig(out / 'realism.png', dpi=90, bbox_inches='tight')
    except Exception as e:
        print('figure failed:', e)


if __name__ == '__main__':
    main()
