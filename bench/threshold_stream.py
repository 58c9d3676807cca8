"""Cost of exact streamed influence maps (vessnb.threshold) next to the Jacobian extraction they consume.
Usage: OMP_NUM_THREADS=1 python bench/threshold_stream.py [size width]  (CPU; prints one markdown table row per case)."""
import sys, time, torch, numpy as np
from vessnb.model import VessNet
from vessnb.data import synthetic_item
from vessnb.jacobian import iter_jacobian_blocks
from vessnb.threshold import influence_from_blocks, influence_counts, influence_map

torch.set_num_threads(1)
size, width = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (64, 8)
torch.manual_seed(0)
model = VessNet(width=width).eval()
image = torch.from_numpy(synthetic_item(size, 0)[0].astype(np.float32) / 255)
ps = (0.01, 0.02, 0.05, 0.1)

t = time.perf_counter(); blocks = list(iter_jacobian_blocks(model, image)); t_ext = time.perf_counter() - t
t = time.perf_counter(); inf = influence_from_blocks(iter(blocks), (size, size), ps); t_cand = time.perf_counter() - t
t = time.perf_counter(); known = influence_from_blocks(iter(blocks), (size, size), ps, max_abs=inf.max_abs); t_known = time.perf_counter() - t
rising = sorted(blocks, key=lambda b: float(b[1].abs().max()))
t = time.perf_counter(); worst = influence_from_blocks(iter(rising), (size, size), ps); t_worst = time.perf_counter() - t
assert torch.equal(inf.counts, known.counts) and torch.equal(inf.counts, worst.counts) and torch.equal(inf.box, known.box)
J = torch.empty(size, size, size, size)
for px, r in blocks: J[px[:, 0], px[:, 1]] = r
t = time.perf_counter(); dense = [influence_counts(J, p) for p in ps]; t_dense = time.perf_counter() - t
assert all(torch.equal(d, c) for d, c in zip(dense, inf.counts))
above = int((J.abs() > 0.01 * inf.max_abs).sum())
print(f'| {size}x{size} | {width} | {len(blocks)} | {t_ext:.2f} | {t_cand:.2f} | {t_known:.2f} | {t_worst:.2f} | {t_dense:.2f} '
      f'| {inf.info["peak_candidates"]:,} ({inf.info["peak_candidates"]*12/2**20:.1f} MiB) | {worst.info["peak_candidates"]:,} '
      f'| {above:,} | {inf.counts[0].float().mean():.1f} |')
