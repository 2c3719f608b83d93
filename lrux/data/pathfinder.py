"""Pathfinder / PathX generator: the "snakes" construction of Linsley et al. (2018) as used by
LRA (Tay et al. 2020), reimplemented with numpy and written in the release layout.

Each image holds a target path and distractor contours, every contour a dashed curve of
straight paddles. A contour grows paddle by paddle: the next paddle starts `gap` after the end
of the previous one, turned by an angle drawn with weight cos(min(|turn| * continuity,
pi/2))^2 (so at most 90 deg at continuity 1.0, 50 deg at 1.8), and may not come within
`thickness + margin` of any earlier paddle except its predecessor (an occupancy mask at 2x
resolution). A dead end in a target restarts the image.

The target path is built identically for both labels: two arms of contour_length / 2
paddles grow from two nearby seeds in roughly opposite directions, and the two markers sit
on the arms' far ends. Label 1: the seeds are one dash gap apart and the second arm continues
the first (one contour of `contour_length` paddles joins the markers). Label 0: the seeds are
`seed_distance`-ish apart and the arms are two separate contours. Marker distance, ink and
contour counts therefore carry (almost) no information about the label; only following the
contour decides it. Distractors have contour_length / 3 paddles.
"""

import dataclasses
import math
import numbers
import os

import numpy as np

from lrux.errors import DataError

from .generation import atomic_generation, code_hash, commit
from .spec import PATHFINDER_DIFFICULTY_DIRS
from .workers import progress_bar, resolve_workers, worker_map


@dataclasses.dataclass(frozen=True)
class SnakeParams:
    """Geometry of one image size, in output pixels (drawn at `antialias` x resolution)."""

    size: int
    paddle_length: float
    thickness: float
    margins: tuple[int, ...]
    marker_radius: float
    seed_distance: float
    continuity: float
    contrast: float
    distractor_budget: int
    padding: float = 1.0
    antialias: int = 2


# Per-size settings after the LRA release's generator settings (lra-data.md).
PARAMS = {
    32: SnakeParams(32, 2.0, 0.5, (1,), 1.5, 7.0, 1.0, 0.75, 20),
    64: SnakeParams(64, 3.0, 1.0, (1,), 2.5, 12.0, 1.8, 0.8, 22),
    128: SnakeParams(128, 5.0, 1.5, (2, 3), 3.0, 20.0, 1.8, 0.9, 35),
    256: SnakeParams(256, 8.0, 2.0, (3,), 5.0, 36.0, 1.8, 1.0, 30),
}

_CANDIDATES = 24  # turn angles drawn per paddle
_START_TRIES = 40


class _DeadEnd(Exception):
    pass


class _Canvas:
    """Occupancy mask at high resolution; all coordinates are (x, y) in high-res pixels."""

    def __init__(self, n: int, pad: float):
        self.n = n
        self.occ = np.zeros((n, n), bool)
        self.lo = pad
        self.hi = n - 1 - pad

    def free(self, pts: np.ndarray) -> np.ndarray:
        """pts (K, P, 2) -> (K,) True where every point is inside and unoccupied."""
        x, y = pts[..., 0], pts[..., 1]
        inside = ((x >= self.lo) & (x <= self.hi) & (y >= self.lo) & (y <= self.hi)).all(-1)
        top = self.n - 1
        xi = np.minimum(np.maximum(np.rint(x), 0), top).astype(np.intp)
        yi = np.minimum(np.maximum(np.rint(y), 0), top).astype(np.intp)
        return inside & ~self.occ[yi, xi].any(-1)

    def commit(self, a: np.ndarray, b: np.ndarray, radius: float) -> None:
        """Mark every pixel within `radius` of segment a-b."""
        d, ys, xs = _segment_distance(a, b, radius, self.n)
        if d is not None:
            self.occ[ys, xs] |= d <= radius


def _segment_distance(a, b, reach, n):
    """Distance from the pixels of the bbox of segment a-b (grown by reach) to the segment."""
    x0 = max(int(math.floor(min(a[0], b[0]) - reach)), 0)
    x1 = min(int(math.ceil(max(a[0], b[0]) + reach)) + 1, n)
    y0 = max(int(math.floor(min(a[1], b[1]) - reach)), 0)
    y1 = min(int(math.ceil(max(a[1], b[1]) + reach)) + 1, n)
    if x0 >= x1 or y0 >= y1:
        return None, None, None
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    dx, dy = b[0] - a[0], b[1] - a[1]
    ll = dx * dx + dy * dy
    if ll > 0:
        t = np.minimum(np.maximum(((xs - a[0]) * dx + (ys - a[1]) * dy) / ll, 0.0), 1.0)
    else:
        t = np.zeros((1, 1))
    d = np.hypot(xs - (a[0] + t * dx), ys - (a[1] + t * dy))
    return d, slice(y0, y1), slice(x0, x1)


class _Snakes:
    def __init__(self, p: SnakeParams, contour_length: int, rng: np.random.Generator):
        self.p = p
        self.rng = rng
        s = p.antialias
        self.n = p.size * s
        self.margin = float(rng.choice(p.margins))
        self.L = p.paddle_length * s
        self.gap = 1.5 * self.margin * s  # dash gap between consecutive paddles
        self.r_ink = p.thickness * s / 2.0
        self.r_block = p.thickness * s + self.margin * s
        self.r_marker = p.marker_radius * s
        self.max_turn = math.pi / (2.0 * p.continuity)
        self.C = contour_length
        self.pad = p.padding * s + self.r_ink
        npts = max(3, int(math.ceil((self.L + self.gap) / 1.0)) + 1)
        self.frac = np.linspace(0.0, 1.0, npts)
        ang = np.linspace(0.0, 2.0 * math.pi, 8, endpoint=False)
        self.ring = np.stack([np.cos(ang), np.sin(ang)], -1) * self.r_marker

    def _candidates(self, q, theta, turns):
        """Paddles starting gap after point q at headings theta + turns."""
        h = theta + turns
        u = np.stack([np.cos(h), np.sin(h)], -1)  # (K, 2)
        start = q[None, :] + self.gap * u
        end = start + self.L * u
        # centre-line points from halfway through the gap to the paddle's end
        a = q[None, :] + 0.5 * self.gap * u
        pts = a[:, None, :] + (end - a)[:, None, :] * self.frac[None, :, None]
        return h, start, end, pts

    def _pick(self, canvas, q, theta, last, turns=None):
        if turns is None:
            turns = self.rng.uniform(-self.max_turn, self.max_turn, _CANDIDATES)
        h, start, end, pts = self._candidates(q, theta, turns)
        ok = canvas.free(pts)
        if last:
            ring = end[:, None, :] + self.ring[None]
            ok &= canvas.free(ring)
        if not ok.any():
            raise _DeadEnd
        w = np.cos(np.minimum(np.abs(turns) * self.p.continuity, math.pi / 2)) ** 2 * ok
        tot = w.sum()
        if tot <= 0:
            raise _DeadEnd
        k = int(np.searchsorted(np.cumsum(w), self.rng.uniform(0.0, tot), side="right"))
        k = min(k, len(w) - 1)
        return float(h[k]), start[k], end[k]

    def _grow(self, canvas, q, theta, n, first_turns, pending, segs, hold_first=False):
        """Grow n paddles after point q / heading theta; `pending` is the exempt predecessor.

        With `hold_first` the first paddle is left out of the occupancy mask (the caller
        commits it later: it is the predecessor of another arm's first paddle).
        """
        for j in range(n):
            theta, a, b = self._pick(canvas, q, theta, last=(j == n - 1),
                                     turns=first_turns if j == 0 else None)
            if pending is not None and not (hold_first and j == 1):
                canvas.commit(pending[0], pending[1], self.r_block)
            pending = (a, b)
            segs.append(pending)
            q = b
        return pending

    def _random_start(self, canvas):
        lo, hi = self.pad + self.gap, self.n - 1 - self.pad - self.gap
        p0 = self.rng.uniform(lo, hi, 2)
        theta = self.rng.uniform(0, 2 * math.pi)
        return p0, theta

    def _fresh(self, canvas, n, segs, p0=None, theta=None):
        """A new contour of n paddles starting at p0 (random if None)."""
        for _ in range(_START_TRIES):
            if p0 is None:
                q0, th = self._random_start(canvas)
            else:
                q0, th = p0, theta
            u = np.array([math.cos(th), math.sin(th)])
            q = q0 - self.gap * u  # virtual end of a predecessor so that paddle 0 starts at q0
            local: list = []
            try:
                pending = self._grow(canvas, q, th, n, np.zeros(1), None, local)
            except _DeadEnd:
                if p0 is not None:
                    raise
                continue
            segs.extend(local)
            return pending
        raise _DeadEnd

    def draw(self, label: int):
        """Return (segments, markers) in high-res coordinates, or raise _DeadEnd."""
        canvas = _Canvas(self.n, self.pad)
        segs: list = []
        a1 = self.C - self.C // 2
        a2 = self.C // 2
        # arm 1 from seed p0
        p0, theta = self._random_start(canvas)
        u = np.array([math.cos(theta), math.sin(theta)])
        arm1: list = []
        pend1 = self._grow(canvas, p0 - self.gap * u, theta, a1, np.zeros(1), None, arm1,
                           hold_first=(label == 1 and a1 > 1))
        first1 = arm1[0]
        if pend1 is not first1:
            canvas.commit(pend1[0], pend1[1], self.r_block)
        end1 = arm1[-1][1]
        canvas.commit(end1, end1, self.r_marker + self.r_block)
        arm2: list = []
        back = theta + math.pi
        if label == 1:
            # the second arm continues the first backwards from its first paddle (exempt)
            turns = self.rng.uniform(-self.max_turn, self.max_turn, _CANDIDATES)
            pend2 = self._grow(canvas, first1[0], back, a2, turns, first1, arm2)
        else:
            canvas.commit(first1[0], first1[1], self.r_block)
            lo = self.gap + 2.0 * self.r_block + 1.0
            hi = max(lo + 1.0, self.p.seed_distance * self.p.antialias)
            pend2 = None
            for _ in range(_START_TRIES):
                d = self.rng.uniform(lo, hi)
                phi = back + self.rng.uniform(-self.max_turn, self.max_turn)
                s2 = p0 + d * np.array([math.cos(phi), math.sin(phi)])
                th2 = back + self.rng.uniform(-self.max_turn, self.max_turn)
                try:
                    local: list = []
                    pend2 = self._fresh(canvas, a2, local, p0=s2, theta=th2)
                    arm2 = local
                    break
                except _DeadEnd:
                    continue
            if pend2 is None:
                raise _DeadEnd
        canvas.commit(pend2[0], pend2[1], self.r_block)
        end2 = arm2[-1][1]
        canvas.commit(end2, end2, self.r_marker + self.r_block)
        segs = arm1 + arm2
        markers = [end1, end2]
        # distractors
        dl = max(1, self.C // 3)
        for _ in range(self.p.distractor_budget // dl):
            for _attempt in range(10):
                saved = canvas.occ.copy()
                local = []
                try:
                    pend = self._fresh(canvas, dl, local)
                except _DeadEnd:
                    canvas.occ = saved
                    continue
                canvas.commit(pend[0], pend[1], self.r_block)
                segs.extend(local)
                break
            else:
                raise _DeadEnd
        return segs, markers

    def render(self, segs, markers) -> np.ndarray:
        """uint8 (size, size) image: antialiased paddles and markers, downsampled."""
        img = np.zeros((self.n, self.n))
        reach = self.r_ink + 1.0
        for a, b in segs:
            d, ys, xs = _segment_distance(a, b, reach, self.n)
            if d is not None:
                ink = np.clip(self.r_ink + 0.5 - d, 0.0, 1.0) * self.p.contrast
                np.maximum(img[ys, xs], ink, out=img[ys, xs])
        for c in markers:
            d, ys, xs = _segment_distance(c, c, self.r_marker + 1.0, self.n)
            if d is not None:
                ink = np.clip(self.r_marker + 0.5 - d, 0.0, 1.0)
                np.maximum(img[ys, xs], ink, out=img[ys, xs])
        s = self.p.antialias
        low = img.reshape(self.p.size, s, self.p.size, s).mean(axis=(1, 3))
        return np.rint(np.clip(low, 0.0, 1.0) * 255.0).astype(np.uint8)


def draw_image(size: int, contour_length: int, label: int, rng: np.random.Generator,
               max_restarts: int = 1000) -> tuple[np.ndarray, float]:
    """One (size, size) uint8 image with the given label; returns (image, paddle margin)."""
    p = PARAMS[size]
    for _ in range(max_restarts):
        sn = _Snakes(p, contour_length, rng)
        try:
            segs, markers = sn.draw(label)
        except _DeadEnd:
            continue
        return sn.render(segs, markers), sn.margin
    raise RuntimeError(f"pathfinder: no image after {max_restarts} restarts "
                       f"(size={size}, contour_length={contour_length})")


def _work(args) -> tuple[int, int, list[str]]:
    """Draw images lo..hi-1 of folder K into `base/imgs/K`; their metadata lines."""
    base, size, difficulty, seed, folder, lo, hi = args
    from PIL import Image

    p = PARAMS[size]
    img_dir = os.path.join(base, "imgs", str(folder))
    os.makedirs(img_dir, exist_ok=True)
    lines = []
    dl = max(1, difficulty // 3)
    for i in range(lo, hi):
        rng = np.random.default_rng([seed, size, difficulty, folder, i])
        label = int(rng.integers(0, 2))
        img, margin = draw_image(size, difficulty, label, rng)
        Image.fromarray(img, mode="L").save(os.path.join(img_dir, f"sample_{i}.png"))
        lines.append(f"imgs/{folder} sample_{i}.png {i} {label} {p.continuity:g} "
                     f"{difficulty} {dl} {p.paddle_length:g} {p.thickness:g} {margin:g} 1")
    return folder, lo, lines


def _check_arguments(size, difficulty, num, per_folder) -> None:
    if size not in PARAMS:
        raise DataError(f"size={size}: expected one of {sorted(PARAMS)}")
    if difficulty not in PATHFINDER_DIFFICULTY_DIRS:
        raise DataError(f"difficulty={difficulty}: expected one of "
                        f"{sorted(PATHFINDER_DIFFICULTY_DIRS)} (contour length in paddles)")
    for name, v in (("num", num), ("per_folder", per_folder)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise DataError(f"{name}={v}: expected a positive count")


def _tasks(base, options) -> tuple[list[tuple], dict[int, int]]:
    """Chunks (base, size, difficulty, seed, folder, lo, hi) of the folders not yet done, and
    the number of chunks per folder. A folder is done when its metadata file exists."""
    o = options
    chunk = max(1, min(100, o["per_folder"]))
    tasks = []
    for start in range(0, o["num"], o["per_folder"]):
        folder = start // o["per_folder"]
        if os.path.exists(os.path.join(base, "metadata", f"{folder}.npy")):
            continue
        n_here = min(o["per_folder"], o["num"] - start)
        for lo in range(0, n_here, chunk):
            tasks.append((base, o["size"], o["difficulty"], o["seed"], folder, lo,
                          min(n_here, lo + chunk)))
    expected: dict[int, int] = {}
    for t in tasks:
        expected[t[4]] = expected.get(t[4], 0) + 1
    return tasks, expected


def _write_metadata(base: str, folder: int, parts: list) -> None:
    path = os.path.join(base, "metadata", f"{folder}.npy")
    with open(path + ".tmp", "w") as f:
        for _, lines in sorted(parts):
            f.writelines(line + "\n" for line in lines)
    os.replace(path + ".tmp", path)  # a folder counts as done only once this file exists


def generate_pathfinder(
    out_dir: str | os.PathLike,
    size: int = 32,
    difficulty: int = 14,
    num: int = 200_000,
    *,
    seed: int = 0,
    workers: int | None = None,
    per_folder: int = 1000,
    progress: bool = True,
) -> str:
    """Write `num` images to `out_dir/pathfinderSIZE/curv_.../{imgs/K/sample_I.png,
    metadata/K.npy}` (metadata are text lines in the release's field order:
    `imgs/K sample_I.png I label continuity contour_length distractor_length paddle_length
    thickness margin num_contrasts`). Image I of folder K depends only on (seed, size,
    difficulty, K, I), so the output does not depend on `workers`. Returns the task folder.

    The task folder must be absent or empty. It appears only when complete, with its marker
    `lrux_generated.json`; an interrupted run resumes from its finished folders when rerun
    with the same arguments (see `lrux.data.generation`).
    """
    _check_arguments(size, difficulty, num, per_folder)
    workers = resolve_workers(workers)
    options = dict(size=int(size), difficulty=int(difficulty), num=int(num), seed=int(seed),
                   per_folder=int(per_folder))
    plan = {"generator": "pathfinder", "seed": int(seed), "options": options,
            "code": code_hash(__file__)}
    target = os.path.join(os.fspath(out_dir), f"pathfinder{size}",
                          PATHFINDER_DIFFICULTY_DIRS[difficulty])
    with atomic_generation(target, plan, what=f"generate pathfinder{size}",
                           expected=("imgs", "metadata")) as part:
        os.makedirs(os.path.join(part.path, "metadata"), exist_ok=True)
        tasks, expected = _tasks(part.path, options)
        got: dict[int, list] = {}
        with progress_bar(options["num"], f"pathfinder{size}", "img", progress) as bar, \
                worker_map(_work, tasks, workers, ordered=False) as results:
            bar.update(options["num"] - sum(t[6] - t[5] for t in tasks))  # resumed folders
            for folder, lo, lines in results:
                got.setdefault(folder, []).append((lo, lines))
                bar.update(len(lines))
                if len(got[folder]) == expected[folder]:
                    _write_metadata(part.path, folder, got.pop(folder))
        n_folders = -(-options["num"] // options["per_folder"])
        commit(part, {"images": options["num"], "folders": n_folders}, plan)
    return target
