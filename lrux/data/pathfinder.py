"""Pathfinder / PathX generator: the "snakes" construction of Linsley et al. (2018) as LRA
(Tay et al. 2020) generated its Pathfinder sets, reimplemented with numpy and written in
the release layout.

An image holds two target contours and distractor contours, each a dashed curve of straight
paddles, and two markers. The construction follows the original generator
(github.com/drewlinsley/pathfinder, `snakes2.py`) at the settings LRA's TFDS builders list
(google-research/long-range-arena, `lra_benchmarks/data/pathfinder.py`):

- Targets: two contours of `contour_length` paddles each. The first starts (its "origin")
  near the image centre: its first paddle lies at least 2 x seed_distance from every border;
  the second starts seed_distance from it (to the pixel), in a uniform direction, with its own
  uniform heading. They grow alternately, one paddle each.
- A contour grows paddle by paddle around pivots: the next pivot is one margin after the end
  of the previous paddle and the next paddle starts one margin after the pivot (a dash gap
  of about 2 x margin, spread by the rounding below), turned by an angle drawn with weight
  cos(min(|turn| x continuity, pi/2))^2 (turns up to 90 deg at continuity 1.0, 50 deg at
  1.8). A paddle's centre line keeps `thickness + 1.5 x margin` from every earlier paddle
  except its predecessor (an occupancy mask at 2x resolution; the release tests
  margin-dilated masks for overlap).
- Distractors: distractor_budget // (contour_length // 3) contours of contour_length // 3
  paddles, seeded anywhere free, after the targets.
- Markers: one on the origin of a random target; label 1: the other on the far end of the
  same target; label 0: on the far end of the other target. All the geometry above is drawn
  before the label is used, so only the choice of the marked end depends on it.
- On the pixel grid, as the release's integer coordinates: a contour's first paddle starts
  on an output pixel centre, each pivot is rounded up to one (the release's ceil), and each
  later paddle's far end is rounded to one, its heading taken from pivot to far end.
- Rendering as the release's: each paddle a line at 2x on its own small canvas whose
  centre pixel maps onto the output's, Lanczos-downsampled by itself, at `contrast` (the
  release's snake x paddle contrast: 2 x 0.75 at size 32), so a paddle is a sharp
  one-pixel dash; markers antialiased at 2x at 1; the maximum of all, scaled so the
  image's maximum is 255 (what the release's `scipy.misc.imsave` did to a float image).

Two things differ from the release on purpose: a keep-out disc (marker radius + margin)
around all four target ends, so no other contour runs under a marker (the release drew the
markers last, over whatever was there), and the second target's first paddle is checked
against the first (the release placed it unchecked). A dead end anywhere restarts the image.
"""

import dataclasses
import functools
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
    """Geometry of one image size, in output pixels (drawn at `antialias` x resolution).

    `contrast` is the paddles' intensity relative to the markers' before the image is
    scaled to a maximum of 255."""

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


# The LRA release's settings per size (lra_benchmarks/data/pathfinder.py docstrings; fields
# they do not set take snakes2_wrapper.py's defaults: paddle length 5, seed distance 27,
# padding 22, paddle contrast 1).
PARAMS = {
    32: SnakeParams(32, 2.0, 0.5, (1,), 1.5, 7.0, 1.0, 2.0 * 0.75, 20),
    64: SnakeParams(64, 5.0, 1.0, (1,), 2.5, 12.0, 1.8, 0.8, 22),
    128: SnakeParams(128, 5.0, 1.5, (2, 3), 3.0, 20.0, 1.8, 0.9, 35),
    256: SnakeParams(256, 5.0, 2.0, (3,), 5.0, 27.0, 1.8, 1.0, 30, padding=22.0),
}

_CANDIDATES = 24  # turn angles drawn per paddle
_START_TRIES = 40  # placements tried for a contour's first paddle
_DISTRACTOR_TRIES = 10  # contours tried per distractor before the image restarts


class _DeadEnd(Exception):
    pass


Segment = tuple[np.ndarray, np.ndarray]  # (start, end), each (x, y)


@dataclasses.dataclass
class Geometry:
    """The contours of one image, in output pixels (x, y). Each target's paddles run from
    its origin (the end grown first) to its terminal end; `margin` is the paddle margin."""

    targets: list[list[Segment]]
    distractors: list[list[Segment]]
    margin: float

    def origins(self) -> list[np.ndarray]:
        return [t[0][0] for t in self.targets]

    def terminals(self) -> list[np.ndarray]:
        return [t[-1][1] for t in self.targets]

    def markers(self, label: int, first: int) -> list[np.ndarray]:
        """The two marker centres: the origin of target `first`, and the terminal end of
        the same target (label 1) or of the other one (label 0)."""
        other = first if label == 1 else 1 - first
        return [self.origins()[first], self.terminals()[other]]


class _Canvas:
    """Occupancy mask at high resolution; coordinates are (x, y) in high-res pixels.
    Paddles (`length`) are committed with a clearance `radius` from stamps."""

    def __init__(self, n: int, pad: float, length: float, radius: float):
        self.n = n
        self.k, self.stamps = _stamps(length, radius)
        self.occ = np.zeros((n, n), bool)
        self.lo = pad
        self.hi = n - 1 - pad

    def free(self, pts) -> bool:
        """True when every (x, y) of pts is inside the padding and unoccupied."""
        lo, hi, occ = self.lo, self.hi, self.occ
        for x, y in pts:
            if not (lo <= x <= hi and lo <= y <= hi) or occ[int(y + 0.5), int(x + 0.5)]:
                return False
        return True

    def commit(self, a, b, radius: float) -> None:
        """Mark every pixel within `radius` of segment a-b."""
        d, ys, xs = _segment_distance(a, b, radius, self.n)
        if d is not None:
            self.occ[ys, xs] |= d <= radius

    def commit_item(self, item) -> None:
        """Mark a keep-out (ax, ay, bx, by, radius, heading): a paddle (heading not None;
        the canvas's length and radius) from a precomputed stamp, its heading and start
        quantised to 1/256 turn and 1/4 pixel; a disc (heading None) exactly."""
        ax, ay, bx, by, radius, h = item
        if h is None:
            self.commit((ax, ay), (bx, by), radius)
            return
        k, stamps = self.k, self.stamps
        q = round(h * _ANGLES / (2 * math.pi)) % _ANGLES
        ia, ja = math.floor(ax + 0.5), math.floor(ay + 0.5)
        i = min(int((ax - ia + 0.5) * _SUBPIXEL), _SUBPIXEL - 1)
        j = min(int((ay - ja + 0.5) * _SUBPIXEL), _SUBPIXEL - 1)
        x0, y0 = ia - k, ja - k
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + 2 * k + 1, self.n), min(y0 + 2 * k + 1, self.n)
        if cx0 < cx1 and cy0 < cy1:
            self.occ[cy0:cy1, cx0:cx1] |= stamps[q, i, j, cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]


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
    return _segment_distance_grid(xs, ys, a, b)[0], slice(y0, y1), slice(x0, x1)


def _segment_distance_grid(xs, ys, a, b):
    """(distance from the grid points (xs (1, W), ys (H, 1)) to segment a-b, None, None)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    ll = dx * dx + dy * dy
    t = 0.0 if ll == 0 else np.clip(((xs - a[0]) * dx + (ys - a[1]) * dy) / ll, 0.0, 1.0)
    return np.hypot(xs - (a[0] + t * dx), ys - (a[1] + t * dy)), None, None


def _distance(px, py, item) -> float:
    """Distance from point (px, py) to the segment of a keep-out item (ax, ay, bx, by, ...)."""
    ax, ay, bx, by = item[:4]
    dx, dy = bx - ax, by - ay
    ll = dx * dx + dy * dy
    t = 0.0 if ll == 0 else min(max(((px - ax) * dx + (py - ay) * dy) / ll, 0.0), 1.0)
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _clear(pts, items, grow: float = 0.0) -> bool:
    """True when every (x, y) of pts (points along a segment, or one point) keeps r + grow
    from each item (ax, ay, bx, by, r, h). Items whose bounding circle is farther than
    that from the points' bounding circle are skipped without a distance test."""
    (x0, y0), (x1, y1) = pts[0], pts[-1]
    cx, cy, rp = (x0 + x1) / 2, (y0 + y1) / 2, math.hypot(x1 - x0, y1 - y0) / 2
    for it in items:
        ax, ay, bx, by, r = it[:5]
        ri = math.hypot(bx - ax, by - ay) / 2
        if math.hypot(cx - (ax + bx) / 2, cy - (ay + by) / 2) > rp + ri + r + grow + 1e-9:
            continue
        if any(_distance(x, y, it) < r + grow for x, y in pts):
            return False
    return True


_ANGLES = 256  # paddle headings of the precomputed occupancy stamps
_SUBPIXEL = 4  # start-point offsets per pixel of the stamps


@functools.lru_cache(maxsize=16)
def _stamps(length: float, radius: float) -> tuple[int, np.ndarray]:
    """(K, stamps): stamps[q, i, j] is the (2K+1, 2K+1) mask of the pixels within `radius`
    of a paddle of `length` at heading 2 pi q / _ANGLES starting at offset (i, j) /
    _SUBPIXEL from pixel (K, K). Built once per process and geometry."""
    k = math.ceil(length + radius) + 1
    grid = np.arange(-k, k + 1, dtype=np.float64)
    out = np.zeros((_ANGLES, _SUBPIXEL, _SUBPIXEL, 2 * k + 1, 2 * k + 1), bool)
    for q in range(_ANGLES):
        h = 2 * math.pi * q / _ANGLES
        for i in range(_SUBPIXEL):
            for j in range(_SUBPIXEL):
                a = ((i + 0.5) / _SUBPIXEL - 0.5, (j + 0.5) / _SUBPIXEL - 0.5)
                b = (a[0] + length * math.cos(h), a[1] + length * math.sin(h))
                d, _, _ = _segment_distance_grid(grid[None, :], grid[:, None], a, b)
                out[q, i, j] = d <= radius
    return k, out


class _Random:
    """Uniform draws on [0, 1) taken from `rng` in blocks (one generator call a block)."""

    def __init__(self, rng: np.random.Generator, block: int = 2048):
        self.rng, self.block = rng, block
        self.buf, self.i = rng.random(block), 0

    def take(self, k: int) -> np.ndarray:
        if self.i + k > len(self.buf):
            self.buf, self.i = self.rng.random(max(self.block, k)), 0
        self.i += k
        return self.buf[self.i - k:self.i]


@dataclasses.dataclass
class _Contour:
    """A contour being grown: its paddles, the next pivot and heading, and its keep-outs
    (ax, ay, bx, by, radius, heading or None) not yet in the occupancy mask (its last
    paddle, its ends)."""

    segs: list
    pivot: tuple[float, float]
    theta: float
    pending: list


def _disc_points(radius: float) -> list[tuple[float, float]]:
    """Offsets: the centre and rings about one pixel apart out to `radius`."""
    radii = [*np.arange(1.0, radius, 1.0).tolist(), radius] if radius > 0 else []
    pts = [(0.0, 0.0)]
    for r in radii:
        k = max(6, math.ceil(2 * math.pi * r))
        pts += [(r * math.cos(2 * math.pi * i / k), r * math.sin(2 * math.pi * i / k))
                for i in range(k)]
    return pts


class _Snakes:
    """Draws the geometry of one image at high resolution; nothing here sees the label."""

    def __init__(self, p: SnakeParams, contour_length: int, rng: np.random.Generator):
        self.p, self.C = p, contour_length
        self.random = _Random(rng)
        s = self.s = p.antialias
        self.n = p.size * s
        self.margin = float(rng.choice(p.margins))
        self.m = self.margin * s  # paddle end -> pivot -> next paddle start
        self.L = p.paddle_length * s
        self.sep = (p.thickness + 1.5 * self.margin) * s  # centre-line clearance
        self.r_keep = (p.marker_radius + self.margin + p.thickness / 2.0) * s  # around ends
        self.pad = p.padding * s + p.thickness * s / 2.0
        self.frac = np.linspace(0.0, 1.0, max(3, math.ceil(self.L) + 1)).tolist()
        self.grow = max(self.r_keep - self.sep, 0.0)
        self.disc = _disc_points(self.grow)
        self.max_turn = math.pi / (2.0 * p.continuity)

    def _snap(self, x: float, y: float, up: bool = False) -> tuple[float, float]:
        """The output pixel centre nearest (x, y) (high-res coordinates), or the one up
        and to the right (`up`: the release's ceil)."""
        s, off = self.s, (self.s - 1) / 2.0
        f = (lambda v: math.ceil(v - 1e-9)) if up else round
        return f((x - off) / s) * s + off, f((y - off) / s) * s + off

    def _paddle(self, x, y, h) -> tuple[tuple, tuple, list]:
        """The paddle starting at (x, y) with heading h: start, end, test points."""
        ux, uy = math.cos(h) * self.L, math.sin(h) * self.L
        return (x, y), (x + ux, y + uy), [(x + f * ux, y + f * uy) for f in self.frac]

    def _end_free(self, canvas: _Canvas, end, others) -> bool:
        """True when no centre line but the own paddle's comes within r_keep of `end`."""
        ex, ey = end
        return (canvas.free([(ex + dx, ey + dy) for dx, dy in self.disc])
                and _clear([end], others, self.grow))

    def _seed(self, canvas, origin, theta, others, keep_out: bool) -> _Contour | None:
        """A contour whose first paddle starts at `origin` with heading theta, or None."""
        a, b, pts = self._paddle(*self._snap(*origin), theta)
        if not (canvas.free(pts) and _clear(pts, others)):
            return None
        if keep_out and not self._end_free(canvas, a, others):
            return None
        pending = [(*a, *b, self.sep, theta)] + ([(*a, *a, self.r_keep, None)] if keep_out
                                                       else [])
        pivot = self._snap(b[0] + self.m * math.cos(theta), b[1] + self.m * math.sin(theta),
                           up=True)
        return _Contour([(a, b)], pivot, float(theta), pending)

    def _step(self, canvas: _Canvas, c: _Contour, others, last: bool) -> None:
        """Add one paddle to c (raises _DeadEnd); `others`: keep-outs not yet in the mask
        that c must respect too. The last paddle leaves room for a marker at its end.

        _CANDIDATES uniform turns in a random order weighted by cos(turn x continuity)^2
        (exponential clocks): the first that fits is a draw with those weights among the
        candidates that fit, as if all were tested."""
        u = self.random.take(2 * _CANDIDATES)
        turns = (2.0 * u[:_CANDIDATES] - 1.0) * self.max_turn
        clocks = -np.log1p(-u[_CANDIDATES:]) / (np.cos(turns * self.p.continuity) ** 2 + 1e-12)
        px, py = c.pivot
        reach = self.m + self.L
        for turn in turns[np.argsort(clocks)].tolist():
            # as the release: the far end on the pixel grid, the heading from pivot to it
            ex, ey = self._snap(px + reach * math.cos(turn + c.theta),
                                py + reach * math.sin(turn + c.theta))
            h = math.atan2(ey - py, ex - px)
            a, _, pts = self._paddle(ex - self.L * math.cos(h), ey - self.L * math.sin(h), h)
            b = (ex, ey)
            if not (canvas.free(pts) and _clear(pts, others)):
                continue
            if last and not self._end_free(canvas, b, others):
                continue
            for it in c.pending:  # the predecessor joins the mask now
                canvas.commit_item(it)
            c.pending = [(*a, *b, self.sep, h)] + ([(*b, *b, self.r_keep, None)] if last
                                                   else [])
            c.segs.append((a, b))
            c.theta = h
            c.pivot = self._snap(b[0] + self.m * math.cos(h), b[1] + self.m * math.sin(h),
                                 up=True)
            return
        raise _DeadEnd

    def _targets(self, canvas: _Canvas) -> list[_Contour]:
        """The two target seeds: the first paddle 2 x seed_distance inside every border,
        the second origin seed_distance from the first in a uniform direction."""
        lo = 2.0 * self.p.seed_distance * self.s
        hi = self.n - 1 - lo
        dist = self.p.seed_distance * self.s
        for _ in range(_START_TRIES):
            r = self.random.take(3)
            theta = (2.0 * r[0] - 1.0) * math.pi
            lu = self.L * np.array([math.cos(theta), math.sin(theta)])
            a, b = lo - np.minimum(lu, 0.0), hi - np.maximum(lu, 0.0)
            if (a > b).any():
                raise _DeadEnd
            first = self._seed(canvas, tuple((a + (b - a) * r[1:]).tolist()), theta, [], True)
            if first is None:
                continue
            ox, oy = first.segs[0][0]
            for _ in range(_START_TRIES):
                phi, th2 = ((2.0 * self.random.take(2) - 1.0) * math.pi).tolist()
                o2 = (ox + dist * math.cos(phi), oy + dist * math.sin(phi))
                second = self._seed(canvas, o2, th2, first.pending, keep_out=True)
                if second is not None:
                    return [first, second]
        raise _DeadEnd

    def _fresh(self, canvas: _Canvas, length: int) -> list:
        """A distractor of `length` paddles seeded anywhere free (raises _DeadEnd)."""
        for _ in range(_START_TRIES):
            x, y, theta = self.random.take(3).tolist()
            span = self.n - 1 - 2 * self.pad
            origin = (self.pad + x * span, self.pad + y * span)
            c = self._seed(canvas, origin, (2 * theta - 1) * math.pi, [], False)
            if c is not None:
                break
        else:
            raise _DeadEnd
        for _ in range(length - 1):
            self._step(canvas, c, [], last=False)
        for it in c.pending:
            canvas.commit_item(it)
        return c.segs

    def _distractor(self, canvas: _Canvas, length: int) -> list:
        for _ in range(_DISTRACTOR_TRIES):
            saved = canvas.occ.copy()
            try:
                return self._fresh(canvas, length)
            except _DeadEnd:
                canvas.occ = saved
        raise _DeadEnd

    def draw(self) -> Geometry:
        """The geometry in output pixels, or raise _DeadEnd."""
        canvas = _Canvas(self.n, self.pad, self.L, self.sep)
        targets = self._targets(canvas)
        for j in range(1, self.C):  # the two targets grow alternately
            for me, other in ((0, 1), (1, 0)):
                self._step(canvas, targets[me], targets[other].pending, j == self.C - 1)
        for c in targets:
            for it in c.pending:
                canvas.commit_item(it)
        dl = max(1, self.C // 3)
        distractors = [self._distractor(canvas, dl)
                       for _ in range(self.p.distractor_budget // dl)]
        out = self._to_output
        return Geometry([[out(g) for g in c.segs] for c in targets],
                        [[out(g) for g in d] for d in distractors], self.margin)

    def _to_output(self, seg) -> Segment:
        """High-res (x, y) -> output pixels (pixel centres at integers)."""
        off = (self.s - 1) / 2.0
        start, end = ((np.asarray(q, np.float64) - off) / self.s for q in seg)
        return start, end


@functools.lru_cache(maxsize=4096)
def _paddle_patch(q: int, p: SnakeParams) -> tuple[int, np.ndarray]:
    """(K, patch): the (2K+1, 2K+1) image of one paddle at heading 2 pi q / _ANGLES whose
    start is the centre pixel K. As the release draws a paddle: a line of width
    thickness x antialias (one pixel per step when that is 1 or less) on a canvas of
    2K antialias + 1 pixels whose centre pixel maps onto the output's, Lanczos-downsampled
    by itself, times `p.contrast`."""
    from PIL import Image

    s = p.antialias
    k = math.ceil(p.paddle_length + p.thickness) + 1
    n = 2 * k * s + 1
    h = 2 * math.pi * q / _ANGLES
    c = float(k * s)
    end = (c + p.paddle_length * s * math.cos(h), c + p.paddle_length * s * math.sin(h))
    width = p.thickness * s
    grid = np.arange(n, dtype=np.float64)
    if width <= 1.0:  # one pixel per step along the major axis, as a 1-pixel line is drawn
        dx, dy = end[0] - c, end[1] - c
        major, minor = (grid[None, :], grid[:, None]) if abs(dx) >= abs(dy) else (
            grid[:, None], grid[None, :])
        lo, hi = sorted((c, end[0] if abs(dx) >= abs(dy) else end[1]))
        slope = dy / dx if abs(dx) >= abs(dy) else dx / dy
        off = minor - (c + (major - c) * slope)
        line = ((major >= round(lo)) & (major <= round(hi)) & (off > -0.5) & (off <= 0.5))
        line = line.astype(np.float32)
    else:
        d, _, _ = _segment_distance_grid(grid[None, :], grid[:, None], (c, c), end)
        line = (d <= width / 2.0).astype(np.float32)
    small = Image.fromarray(line).resize((2 * k + 1, 2 * k + 1), Image.Resampling.LANCZOS)
    return k, np.clip(np.asarray(small, np.float64), 0.0, 1.0) * p.contrast


def render(p: SnakeParams, geo: Geometry, markers) -> np.ndarray:
    """uint8 (size, size): each paddle drawn from its patch (`_paddle_patch`) at its end on
    the pixel grid, markers (at the nearest pixel centres) drawn antialiased at high resolution and
    downsampled with Lanczos, the maximum of all, scaled to a maximum of 255."""
    from PIL import Image

    n = p.size
    img = np.zeros((n, n), np.float64)
    for c in geo.targets + geo.distractors:
        for a, b in c:
            if np.abs(a - np.rint(a)).max() > 1e-6:  # drawn from the end on the pixel grid
                a, b = b, a
            q = round(math.atan2(b[1] - a[1], b[0] - a[0]) * _ANGLES / (2 * math.pi))
            k, patch = _paddle_patch(q % _ANGLES, p)
            x0, y0 = int(round(a[0])) - k, int(round(a[1])) - k
            cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + 2 * k + 1, n), min(
                y0 + 2 * k + 1, n)
            if cx0 < cx1 and cy0 < cy1:
                view = img[cy0:cy1, cx0:cx1]
                np.maximum(view, patch[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0], out=view)
    s, big = p.antialias, p.size * p.antialias
    off = (s - 1) / 2.0
    disc = np.zeros((big, big), np.float32)
    radius = p.marker_radius * s
    for m in markers:
        m = np.rint(np.asarray(m, np.float64)) * s + off
        d, ys, xs = _segment_distance(m, m, radius + 1.0, big)
        if d is not None:
            np.maximum(disc[ys, xs], np.clip(radius + 0.5 - d, 0.0, 1.0), out=disc[ys, xs])
    small = Image.fromarray(disc).resize((n, n), Image.Resampling.LANCZOS)
    img = np.maximum(img, np.asarray(small, np.float64))
    return np.rint(np.clip(img * (255.0 / img.max()), 0.0, 255.0)).astype(np.uint8)


def draw_geometry(size: int, contour_length: int, rng: np.random.Generator,
                  max_restarts: int = 1000) -> Geometry:
    """The contours of one image (restarting on dead ends)."""
    p = PARAMS[size]
    for _ in range(max_restarts):
        try:
            return _Snakes(p, contour_length, rng).draw()
        except _DeadEnd:
            continue
    raise RuntimeError(f"pathfinder: no image after {max_restarts} restarts "
                       f"(size={size}, contour_length={contour_length})")


def draw_image(size: int, contour_length: int, label: int, rng: np.random.Generator,
               max_restarts: int = 1000) -> tuple[np.ndarray, float]:
    """One (size, size) uint8 image with the given label; returns (image, paddle margin).
    The geometry is drawn first; then a random target's origin is marked, and the far end
    of the same target (label 1) or of the other one (label 0)."""
    geo = draw_geometry(size, contour_length, rng, max_restarts)
    first = int(rng.integers(0, 2))
    return render(PARAMS[size], geo, geo.markers(label, first)), geo.margin


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
