"""Plumbing shared by the lrux course notebooks: colours, live figures, checks of the text,
exercise checks.

The notebooks import this file (it sits next to them) so that their cells show the
mathematics and the experiment, not widget and plotting boilerplate.

- `SMALL`: `LRUX_NOTEBOOK_SMALL=1` (the test suite) shrinks the sizes in the notebooks.
- `SEED`, `key(i)`: `LRUX_COURSE_SEED` (default 0) moves every random draw of the course;
  `key(i)` is `jax.random.key(i + 1000 * SEED)`, so seed 0 is the draw the text was written
  on, and the tests rerun every notebook with a second seed.
- `claims(where, ...)`: every number or comparison that a sentence of the text states is
  computed in a cell and checked here; a rerun that makes a sentence false fails (one line
  naming the sentence and what was found instead).
- `COLORS`, `STYLES`, `label(name)`: one colour and line style per model, in every panel of
  every notebook, derived from the registry's order (`lrux.registry.MIXERS`), so a newly
  registered mixer gets its own colour.
- `paper_row(name)`: the paper's accuracies for a rung, read from the registry
  (`MixerEntry.paper`); dashes for a rung the paper did not train.
- `RINGS`: the paper's rings (Table 9); `ring_slider`, `phase_slider`, `memory_slider` and
  `Live`: a figure redrawn by one jitted callback when a control changes.
- `check_*`: exercise checks. Each prints one line: "correct" with a detail, "not attempted
  yet" for a stub, or "not yet: ..." saying what is wrong and by how much (never a traceback
  through this file, which would show the check's oracle); it returns True or False.
  `solution(name)`: show and check the reference solution from `solutions.py`, unless a
  teacher set `LRUX_HIDE_SOLUTIONS=1` (or handed out a copy without `solutions.py`).
"""

from __future__ import annotations

import inspect
import io
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

SMALL = os.environ.get("LRUX_NOTEBOOK_SMALL") == "1"
HIDE_SOLUTIONS = os.environ.get("LRUX_HIDE_SOLUTIONS") == "1"
# LRUX_NOTEBOOK_STATIC=1 draws every live figure once, as a plain image, without widgets
# (the headless test suite and the docs site; the browser test runs the widgets).
STATIC = os.environ.get("LRUX_NOTEBOOK_STATIC") == "1"


def _seed() -> int:
    raw = os.environ.get("LRUX_COURSE_SEED", "0")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"LRUX_COURSE_SEED={raw!r}: expected an integer seed (default 0)") from None


SEED = _seed()


def key(i: int):
    """The course's i-th random key: jax.random.key(i + 1000 * SEED)."""
    import jax

    return jax.random.key(i + 1000 * SEED)


def rng(i: int) -> np.random.Generator:
    """The course's i-th numpy generator (seeded like `key`)."""
    return np.random.default_rng(i + 1000 * SEED)


# --------------------------------------------------------------------------------------------
# The text's claims


class ClaimError(AssertionError):
    """A sentence of the course's text is false for this run."""


def claims(where: str, *items: tuple[str, Any, Any]) -> int:
    """Check the statements of the text at `where`: each item is (sentence, holds, found).

    Raises ClaimError naming every sentence that does not hold and what this run found
    instead; otherwise prints one line and returns the number of statements checked.
    """
    wrong = [f"'{sentence}' (found: {found})" for sentence, holds, found in items
             if not bool(holds)]
    if wrong:
        raise ClaimError(f"{where}, seed {SEED}: the text says " + "; and ".join(wrong))
    what = "the statement" if len(items) == 1 else f"the {len(items)} statements"
    print(f"checked: {what} of {where} {'holds' if len(items) == 1 else 'hold'} for this run "
          f"(seed {SEED})")
    return len(items)


def answer(markdown: str, summary: str = "Answer"):
    """Display a folded answer whose numbers were computed in the notebook."""
    from IPython.core.display import Markdown
    from IPython.display import display

    display(Markdown(f"<details><summary>{summary}</summary>\n\n{markdown}\n\n</details>"))


# --------------------------------------------------------------------------------------------
# Colours and line styles, from the registry's order

# matplotlib's tab10 and tab20 colours, ordered so that the ladder (the registry's first
# family) climbs from warm (nonlinear RNNs) to the LRU's blue; every registered mixer takes
# the colour at its position in `lrux.registry.MIXERS`.
PALETTE = ("#8c564b", "#d62728", "#ff7f0e", "#9467bd", "#e377c2", "#17becf", "#2ca02c",
           "#1f77b4", "#98df8a", "#ff9896", "#bcbd22", "#7f7f7f", "#000000", "#c49c94",
           "#aec7e8", "#ffbb78", "#c5b0d5", "#f7b6d2", "#dbdb8d", "#9edae5")
LINESTYLES = ((0, (1, 1)), "--", "-.", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)), ":", "-",
              "-")
FIXED = {"target": ("#000000", "-")}  # what is not a mixer


def _registry_order() -> list[str]:
    from lrux.registry import mixer_names

    return mixer_names()


class _ByRegistry(Mapping):
    """name -> the colour (or line style) at the mixer's position in the registry."""

    def __init__(self, choices: tuple, which: int, default):
        self.choices, self.which, self.default = choices, which, default

    def __getitem__(self, name: str):
        if name in FIXED:
            return FIXED[name][self.which]
        order = _registry_order()
        if name not in order:
            return self.default
        i = order.index(name)
        if self.which == 0:  # colours: wrap around the palette
            return self.choices[i % len(self.choices)]
        return self.choices[i] if i < len(self.choices) else self.default

    def __iter__(self) -> Iterator[str]:
        return iter([*_registry_order(), *FIXED])

    def __len__(self) -> int:
        return len(_registry_order()) + len(FIXED)


COLORS: Mapping[str, str] = _ByRegistry(PALETTE, 0, "0.5")
STYLES: Mapping[str, Any] = _ByRegistry(LINESTYLES, 1, "-")

# The paper's rings (Table 9 / Table 8): (r_min, r_max, max_phase).
RINGS = {
    "sCIFAR, Pathfinder": (0.9, 0.999, 2 * math.pi),
    "ListOps": (0.0, 0.99, 2 * math.pi),
    "Text, Retrieval": (0.5, 0.9, 2 * math.pi),
    "PathX": (0.999, 0.9999, math.pi / 10),
}

# The paper's accuracies per LRA task, as the registry holds them (`MixerEntry.paper`, the
# paper's ablation table, paper.md section 4): a rung the paper did not train (a newly
# registered mixer) has none, and `paper_row` gives dashes, so the course never fails on it.
PAPER_TASKS = ("sCIFAR", "ListOps", "Text", "Retrieval", "Pathfinder", "PathX")
_PAPER_TASK_NAMES = ("image", "listops", "text", "retrieval", "pathfinder", "pathx")  # lrux's


def paper_row(name: str) -> tuple[str, ...]:
    """The paper's accuracies for rung `name` (PAPER_TASKS order) from the registry, dashes
    where the paper has none."""
    from lrux.registry import MIXERS

    paper = MIXERS[name].paper if name in MIXERS else {}
    return tuple(paper.get(task, "-") for task in _PAPER_TASK_NAMES)


MAX_DIGITS = 5.0  # the ring slider reaches r = 1 - 10^-5 = 0.99999


def r_of_digits(digits: float) -> float:
    """r = 1 - 10^-digits: the ring slider's coordinate (digits = 0 is r = 0)."""
    return 1.0 - 10.0 ** (-digits)


def digits_of_r(r: float) -> float:
    """-log10(1 - r), the number of nines in r (r = 0.999 -> 3)."""
    return -math.log10(1.0 - r)


def fmt_r(r: float) -> str:
    """A radius with two significant digits of 1 - r: 0.9 -> '0.9', 0.99990 -> '0.9999',
    0.99898 -> '0.99898' (not '0.999', which would promise a memory of 1000 steps)."""
    if r <= 0:
        return "0"
    return f"{r:.{max(1, math.ceil(digits_of_r(r) - 1e-9) + 2)}f}".rstrip("0").rstrip(".")


def fmt_phase(phase: float) -> str:
    """A phase in radians and as a fraction of pi: '0.314 (pi/10.0)'."""
    return f"{phase:.3f} rad (pi/{math.pi / phase:.3g})" if phase < math.pi else f"{phase:.2f} rad"


# --------------------------------------------------------------------------------------------
# Controls: plain descriptions, turned into ipywidgets only when widgets are shown


class Control:
    """A slider (or range slider) with a value transform and values the tests try."""

    def __init__(self, make: Callable[[], Any], value, *, transform=None, inverse=None,
                 tries=()):
        self.make = make  # () -> the ipywidget
        self.value = value  # the slider coordinate at start
        self.transform = transform or (lambda v: v)  # slider coordinate -> draw's argument
        self.inverse = inverse or (lambda v: v)  # draw's argument -> slider coordinate
        self.tries = tuple(tries)  # slider coordinates the tests draw


def ring_slider(r_min: float = 0.9, r_max: float = 0.999) -> Control:
    """One range slider for [r_min, r_max], on a log scale of 1 - r (0 ... 0.99999).

    Its value is (r_min, r_max); the slider position is -log10(1 - r), so one pixel near
    r = 0.9999 moves r by about 1e-6 and 0.9 ... 0.99999 are all reachable by dragging.
    """
    start = (digits_of_r(r_min), digits_of_r(r_max))

    def make():
        import ipywidgets as w

        return w.FloatRangeSlider(
            value=start, min=0.0, max=MAX_DIGITS, step=0.01, readout_format=".2f",
            continuous_update=False, description="ring 1-10^-x",
            style={"description_width": "initial"}, layout=w.Layout(width="420px"),
        )

    def transform(v):
        return (r_of_digits(v[0]), r_of_digits(v[1]))

    def inverse(v):
        return (digits_of_r(v[0]), digits_of_r(v[1]))

    tries = [(0.0, 2.0), (3.0, 4.0), (1.0, MAX_DIGITS)]
    return Control(make, start, transform=transform, inverse=inverse, tries=tries)


def phase_slider(value: float = 2 * math.pi) -> Control:
    """max_phase in (0, 2 pi], radians."""

    def make():
        import ipywidgets as w

        return w.FloatSlider(
            value=value, min=0.01, max=2 * math.pi, step=0.01, continuous_update=False,
            readout_format=".2f", description="max phase", layout=w.Layout(width="420px"),
        )

    return Control(make, value, tries=[0.05, math.pi / 10, math.pi])


def memory_slider(r: float, description: str = "|lambda| 1-10^-x") -> Control:
    """One radius r in [0, 0.99999] on a log scale of 1 - r; its value is r."""
    start = digits_of_r(r)

    def make():
        import ipywidgets as w

        return w.FloatSlider(
            value=start, min=0.0, max=MAX_DIGITS, step=0.01, readout_format=".2f",
            continuous_update=False, description=description,
            style={"description_width": "initial"}, layout=w.Layout(width="420px"),
        )

    return Control(make, start, transform=r_of_digits, inverse=digits_of_r, tries=[0.5, 2.0, 4.0])


def float_slider(value, lo, hi, step, description, *, log=False, tries=None) -> Control:
    """A plain (or log10) float slider; `log=True` takes lo, hi as exponents."""

    def make():
        import ipywidgets as w

        cls = w.FloatLogSlider if log else w.FloatSlider
        kwargs = {"base": 10} if log else {}
        return cls(
            value=value, min=lo, max=hi, step=step, continuous_update=False,
            description=description, style={"description_width": "initial"},
            layout=w.Layout(width="420px"), **kwargs,
        )

    if tries is None:
        tries = [10.0**lo, 10.0**hi] if log else [float(lo), float(hi)]
    return Control(make, value, tries=tries)


def int_slider(value, lo, hi, step, description, *, tries=None) -> Control:
    """An integer slider."""

    def make():
        import ipywidgets as w

        return w.IntSlider(
            value=value, min=lo, max=hi, step=step, continuous_update=False,
            description=description, style={"description_width": "initial"},
            layout=w.Layout(width="420px"),
        )

    return Control(make, value, tries=[lo, hi] if tries is None else tries)


def choice_slider(options, value, description, *, tries=None) -> Control:
    """A slider over a fixed list of values (e.g. precomputed sizes)."""

    def make():
        import ipywidgets as w

        return w.SelectionSlider(
            options=list(options), value=value, continuous_update=False,
            description=description, style={"description_width": "initial"},
            layout=w.Layout(width="420px"),
        )

    return Control(make, value, tries=[o for o in options if o != value] if tries is None
                   else tries)


# --------------------------------------------------------------------------------------------
# Live figures


LIVE: list[Live] = []  # every live figure of this kernel, for `exercise_live_figures`


class Live:
    """`draw(**values)` -> a matplotlib figure, redrawn whenever a control changes.

    `controls` maps the keyword names of `draw` to `Control`s; `presets` maps a button label
    to {name: value} (values as `draw` receives them, e.g. a ring (r_min, r_max)).
    `draw` should call jitted functions with fixed shapes, so that a new value never
    recompiles; the time of the last redraw is shown under the figure.
    """

    def __init__(self, draw: Callable[..., Any], controls: dict[str, Control], *,
                 presets: dict[str, dict[str, Any]] | None = None, name: str = ""):
        self.draw = draw
        self.controls = controls
        self.presets = presets or {}
        self.name = name or draw.__name__
        self.values = {k: c.value for k, c in controls.items()}  # slider coordinates
        self.seconds: list[float] = []  # wall time of each redraw
        self.cpu_seconds: list[float] = []  # process CPU time of each redraw
        self.widgets: dict[str, Any] = {}
        LIVE.append(self)
        if STATIC:
            self._show_static()
        else:
            self._show_widgets()

    # -- drawing
    def arguments(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        values = self.values if values is None else values
        return {k: self.controls[k].transform(v) for k, v in values.items()}

    def render(self, values: dict[str, Any] | None = None, *, data_too: bool = False):
        """The figure for `values` (slider coordinates) as PNG bytes; times the redraw.

        `data_too=True` returns (png, data_png): the second is the same figure saved again with
        every text (titles, labels, legends, annotations) and every horizontal or vertical
        reference line hidden, so that two data_pngs differ only if the plotted data differ
        (the tests' check that a figure follows its slider; not timed).
        """
        import matplotlib.pyplot as plt

        start, cpu = time.perf_counter(), time.process_time()
        fig = self.draw(**self.arguments(values))
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.seconds.append(time.perf_counter() - start)
        self.cpu_seconds.append(time.process_time() - cpu)
        if not data_too:
            plt.close(fig)
            return buf.getvalue()
        _hide_text_and_reference_lines(fig)
        data = io.BytesIO()
        fig.savefig(data, format="png")
        plt.close(fig)
        return buf.getvalue(), data.getvalue()

    def _show_static(self):
        from IPython.core.display import Image
        from IPython.display import display

        display(Image(self.render()))

    def _show_widgets(self):
        import ipywidgets as w
        from IPython.display import display

        self.out = w.Output()
        self.status = w.HTML()
        for key, control in self.controls.items():
            widget = control.make()
            widget.observe(lambda change, key=key: self._changed(key, change["new"]), "value")
            self.widgets[key] = widget
        buttons = []
        for label, values in self.presets.items():
            button = w.Button(description=label, layout=w.Layout(width="auto"))
            button.on_click(lambda _b, values=values: self.set(**values))
            buttons.append(button)
        rows = [w.HBox([w.Label("the paper's rings:"), *buttons])] if buttons else []
        self._redraw()
        display(w.VBox([*rows, *self.widgets.values(), self.out, self.status]))

    def _changed(self, key, value):
        if getattr(self, "_holding", False):
            return
        self.values[key] = value
        self._redraw()

    def set(self, **arguments):
        """Move controls to `arguments` (as `draw` receives them) with one redraw."""
        self._holding = True
        try:
            for key, value in arguments.items():
                coord = self.controls[key].inverse(value)
                self.values[key] = coord
                if key in self.widgets:
                    self.widgets[key].value = coord
        finally:
            self._holding = False
        if self.widgets:
            self._redraw()

    def _redraw(self):
        from IPython.core.display import Image
        from IPython.display import clear_output, display

        png = self.render()
        with self.out:
            clear_output(wait=True)
            display(Image(png))
        self.status.value = (
            f"<small>redrawn in {self.seconds[-1]:.2f} s (computation + drawing)</small>"
        )


def _hide_text_and_reference_lines(fig) -> None:
    """Hide what a figure can change without its data changing: texts and axhline/axvline."""
    for text in fig.texts:
        text.set_visible(False)
    for ax in fig.axes:
        for loc in ("left", "center", "right"):
            ax.set_title("", loc=loc)
        ax.set_xlabel("")
        ax.set_ylabel("")
        if ax.get_legend() is not None:
            ax.get_legend().set_visible(False)
        for text in ax.texts:
            text.set_visible(False)
        reference = [line for line in ax.lines  # axhline / axvline: a blended transform
                     if line.get_transform() != ax.transData]
        for line in reference:
            line.remove()
        if reference:  # and their share of the autoscaled limits
            ax.relim()
            ax.autoscale_view()


def _same(a, b) -> bool:
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=0, atol=1e-9))


def exercise_live_figures() -> dict[str, dict[str, Any]]:
    """Redraw every live figure at each control's test values and each preset.

    Returns {name: {"changed": {what: bool}, "data_changed": {what: bool}, "seconds": [...],
    "cpu_seconds": [...]}}: whether each new value gave a different PNG than the current
    one, whether its pixels differ with every text and reference line hidden (a figure that
    only retitles itself fails this), and the wall and CPU time of every redraw (the first
    one, which compiles, included).
    """
    report = {}
    for live in LIVE:
        base, base_data = live.render(data_too=True)
        changed, data_changed = {}, {}
        moves = [(f"{key}={value}", {**live.values, key: value})
                 for key, control in live.controls.items() for value in control.tries
                 if not _same(value, live.values[key])]
        for label_, values in live.presets.items():
            coords = {k: live.controls[k].inverse(v) for k, v in values.items()}
            if not all(_same(v, live.values[k]) for k, v in coords.items()):
                moves.append((label_, {**live.values, **coords}))
        for what, values in moves:
            png, data = live.render(values, data_too=True)
            changed[what], data_changed[what] = png != base, data != base_data
        report[live.name] = {"changed": changed, "data_changed": data_changed,
                             "seconds": list(live.seconds),
                             "cpu_seconds": list(live.cpu_seconds)}
    return report


# --------------------------------------------------------------------------------------------
# Figures


def figure(ncols: int = 1, *, widths=None, width: float = 11.0, height: float = 3.4,
           nrows: int = 1, **kwargs) -> tuple[Any, Any]:
    """plt.subplots with fixed margins (no tight_layout: it costs 40% of a redraw)."""
    import matplotlib.pyplot as plt

    grid = {"width_ratios": widths} if widths else {}
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), gridspec_kw=grid, **kwargs)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.87, wspace=0.28, hspace=0.45)
    return fig, axes


def show_source(fn) -> None:
    """Display the source code of `fn` (e.g. a function of the reference run's script)."""
    from IPython.display import Code, display

    display(Code(inspect.getsource(fn), language="python"))


def show(fig) -> None:
    """Display a finished (not live) figure as a PNG image and close it."""
    import matplotlib.pyplot as plt
    from IPython.core.display import Image
    from IPython.display import display

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    display(Image(buf.getvalue()))


def plt_colors() -> list[str]:
    """matplotlib's tab10 colours, in order."""
    import matplotlib
    import matplotlib.colors

    return [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab10"](range(10))]


def label(name: str) -> dict[str, Any]:
    """matplotlib keywords for the model `name`: its colour, line style and label."""
    return {"color": COLORS.get(name, "k"), "ls": STYLES.get(name, "-"), "label": name}


def unit_circle(ax, *, lw=0.8):
    """Draw the unit circle (|lambda| = 1) and label the axes of a complex plane."""
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="0.3", lw=lw, label="|λ| = 1")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_aspect("equal")


# --------------------------------------------------------------------------------------------
# Exercises


class NotAttempted(Exception):
    """Raised inside a check when the student's function is still the stub."""


class StudentError(Exception):
    """The student's function raised; carries its exception, reported in one line."""


def _run(fn, *args, **kwargs):
    """Call the student's `fn`: a stub is NotAttempted, any other exception a StudentError."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise NotAttempted from e
    except Exception as e:  # the student's bug: one line, not a traceback through the check
        raise StudentError(f"your code raised {type(e).__name__}: {e}") from None


class Verdict:
    """A check's result: true when correct. Shows nothing as a cell's last value (the check
    has printed its one line already)."""

    def __init__(self, ok: bool):
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        pass


def _verdict(name: str, check: Callable[[], str]) -> Verdict:
    """Run `check` and print one line: correct (True), not attempted or not yet (False).

    A wrong answer is an AssertionError inside `check` whose message says what is wrong and
    by how much; it is printed as one line and never re-raised, so no traceback shows the
    check's own code (its oracle)."""
    try:
        detail = check()
    except NotAttempted:
        print(f"{name}: not attempted yet (write your answer in the cell above and run it)")
        return Verdict(False)
    except (AssertionError, StudentError) as e:
        print(f"{name}: not yet. {e}")
        return Verdict(False)
    print(f"{name}: correct. {detail}")
    return Verdict(True)


def _shape_of(got, want_shape) -> None:
    assert got.shape == tuple(want_shape), f"expected shape {tuple(want_shape)}, got {got.shape}"


def check_kernel(fn) -> Verdict:
    """fn(lam (n,) complex, B (n, H) complex, C (H, n) complex, length) -> K (length, H, H)
    with K_k = Re(C diag(lam)^k B)."""

    def check():
        rng_ = np.random.default_rng(0)
        n, h, length = 5, 3, 12
        lam = 0.95 * np.exp(1j * rng_.uniform(0, 2 * np.pi, n)) * rng_.uniform(0.5, 1, n)
        b = rng_.normal(size=(n, h)) + 1j * rng_.normal(size=(n, h))
        c = rng_.normal(size=(h, n)) + 1j * rng_.normal(size=(h, n))
        powers = np.ones(n, complex)
        want = np.empty((length, h, h))
        for k in range(length):  # float64, one power at a time
            want[k] = ((c * powers) @ b).real
            powers = powers * lam
        got = np.asarray(_run(fn, lam.astype(np.complex64), b.astype(np.complex64),
                              c.astype(np.complex64), length))
        _shape_of(got, want.shape)
        assert not np.iscomplexobj(got) or np.abs(np.imag(got)).max() == 0, (
            "your kernel is complex: K_k is the real part of C diag(lam)^k B")
        scale = np.abs(want).max()
        err = float(np.abs(got - want).max() / scale)
        if err >= 1e-4 and float(np.abs(got[:-1] - want[1:]).max() / scale) < 1e-4:
            raise AssertionError("your K_k equals the expected K_(k+1): the kernel starts at "
                                 "lam^0 (K_0 = Re(C B)), not lam^1")
        if err >= 1e-4 and float(np.abs(got[1:] - want[:-1]).max() / scale) < 1e-4:
            raise AssertionError("your K_k equals the expected K_(k-1): one step late")
        assert err < 1e-4, f"K_k is off by up to {err:.1e} of the kernel's largest entry"
        return f"max relative error {err:.1e} against a float64 loop"

    return _verdict("kernel", check)


def check_change_of_basis(fn) -> Verdict:
    """fn(A (n, n), B (n, H), C (H, n)) -> (lam (n,), B' (n, H), C' (H, n)), complex, such
    that the diagonal RNN x'_k = lam x'_{k-1} + B' u_k, y_k = Re(C' x'_k) equals the dense one."""

    def check():
        rng = np.random.default_rng(1)
        n, h, length = 6, 2, 20
        a = rng.normal(size=(n, n)) / math.sqrt(n) * 0.9
        b, c = rng.normal(size=(n, h)), rng.normal(size=(h, n))
        lam, b2, c2 = (np.asarray(v) for v in _run(fn, a, b, c))
        assert lam.shape == (n,) and b2.shape == (n, h) and c2.shape == (h, n), (
            f"expected shapes ({n},), ({n}, {h}), ({h}, {n}); got "
            f"{lam.shape}, {b2.shape}, {c2.shape}")
        u = rng.normal(size=(length, h))
        x, xd = np.zeros(n), np.zeros(n, complex)
        err = 0.0
        for k in range(length):
            x = a @ x + b @ u[k]
            xd = lam * xd + b2 @ u[k]
            err = max(err, float(np.abs(c @ x - (c2 @ xd).real).max()))
        assert err < 1e-6 * max(1.0, float(np.abs(c @ x).max())), (
            f"the diagonal RNN's output differs from the dense one by {err:.2e}")
        return f"outputs agree to {err:.1e} over {length} steps"

    return _verdict("change of basis", check)


def check_ring_init(fn) -> Verdict:
    """fn(key, n, r_min, r_max, max_phase) -> lam (n,) complex, uniform on the ring
    (|lam|^2 uniform on [r_min^2, r_max^2], phase uniform on [0, max_phase])."""

    def check():
        import jax

        n = 20000
        for r_min, r_max, phase in ((0.0, 1.0, 2 * math.pi), (0.9, 0.999, math.pi / 10)):
            lam = np.asarray(_run(fn, jax.random.key(0), n, r_min, r_max, phase))
            assert lam.shape == (n,), f"expected shape ({n},), got {lam.shape}"
            mod2, ang = np.abs(lam) ** 2, np.mod(np.angle(lam), 2 * np.pi)
            ring = f"ring [{r_min}, {r_max}]"
            assert mod2.min() >= r_min**2 - 1e-6 and mod2.max() <= r_max**2 + 1e-6, (
                f"{ring}: |lambda| outside the ring ({mod2.min() ** .5:.4f}, "
                f"{mod2.max() ** .5:.4f})")
            ks = _ks_uniform(mod2, r_min**2, r_max**2)
            assert ks < 0.02, (
                f"{ring}: |lambda|^2 is not uniform on [r_min^2, r_max^2] (Kolmogorov-Smirnov "
                f"distance {ks:.3f}); Lemma 2 needs |lambda|^2 uniform, not |lambda|")
            ks = _ks_uniform(ang, 0.0, phase)
            assert ks < 0.02, f"{ring}: phase not uniform on [0, {phase:.3f}] (KS {ks:.3f})"
        return "|lambda|^2 and the phase are uniform on both test rings"

    return _verdict("ring init", check)


def _ks_uniform(x: np.ndarray, lo: float, hi: float) -> float:
    """Kolmogorov-Smirnov distance between the sample x and U[lo, hi] (values outside the
    interval count at its ends)."""
    u = np.sort(np.clip((np.asarray(x, float) - lo) / (hi - lo), 0.0, 1.0))
    n = len(u)
    above = np.arange(1, n + 1) / n - u  # the empirical CDF just after each point
    below = u - np.arange(n) / n  # ... and just before it
    return float(max(above.max(), below.max()))


def ks_uniform(x, lo: float = 0.0, hi: float = 1.0) -> float:
    """Kolmogorov-Smirnov distance of the sample x from U[lo, hi] (public: notebook 2.3)."""
    return _ks_uniform(np.asarray(x), lo, hi)


def ring_factor_reference(r_min: float, r_max: float, points: int = 200001) -> float:
    """E[1 / (1 - |lambda|^2)] for |lambda|^2 ~ U[r_min^2, r_max^2], by the midpoint rule."""
    s = r_min**2 + (np.arange(points) + 0.5) / points * (r_max**2 - r_min**2)
    return float(np.mean(1.0 / (1.0 - s)))


def check_ring_factor(fn) -> Verdict:
    """fn(r_min, r_max) -> E||x||^2 / E||Bu||^2 at stationarity for a ring (Prop. 3)."""

    def check():
        for r_min, r_max in ((0.0, 0.9), (0.9, 0.999), (0.999, 0.9999), (0.5, 0.5)):
            want = ring_factor_reference(r_min, r_max)
            try:
                got = float(_run(fn, r_min, r_max))
            except StudentError as e:
                raise StudentError(f"at the ring [{r_min}, {r_max}] {e}") from None
            assert abs(got - want) <= 1e-3 * want, (
                f"ring [{r_min}, {r_max}]: expected {want:.4f}, got {got:.4f}")
        return "matches the average of 1 / (1 - |lambda|^2) over the ring"

    return _verdict("ring factor", check)


def check_thin_ring_r_min(r_min: float, *, r_max: float = 0.9999, factor: float = 100.0) -> Verdict:
    """r_min: the smallest r_min at which the ring [r_min, r_max] blows the state up by
    `factor` (E||x||^2 / E||Bu||^2 >= factor)."""

    def check():
        if r_min is None:
            raise NotAttempted
        lo, hi = 0.0, r_max
        for _ in range(100):  # the factor grows with r_min: bisect
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if ring_factor_reference(mid, r_max) >= factor else (mid, hi)
        assert abs(r_min - hi) < 2e-3, (
            f"at r_min = {r_min:.4f} the factor is {ring_factor_reference(r_min, r_max):.1f}, "
            f"not {factor:g}")
        return f"r_min = {hi:.4f} gives a factor of {factor:g} (r_max = {r_max})"

    return _verdict("thin ring", check)


def check_mode_spectrum(fn) -> Verdict:
    """fn(lam complex, omega (m,) rad/step) -> (m,) the magnitude of one mode's transfer
    function, |sum_k lam^k e^{-i omega k}| over k >= 0 (an infinitely long kernel)."""

    def check():
        omega = np.linspace(0.0, np.pi, 64)
        for lam in (0.9 * np.exp(0.5j), 0.999 * np.exp(0.05j), 0.5 + 0.0j):
            got = np.asarray(_run(fn, complex(lam), omega.copy()), float)
            _shape_of(got, omega.shape)
            terms = int(np.ceil(np.log(1e-13) / np.log(abs(lam)))) + 1  # |lam|^k < 1e-13 after
            k = np.arange(terms)
            want = np.abs(np.exp(np.outer(-1j * omega, k)) @ (lam**k))  # float64 long sum
            err = float(np.max(np.abs(got - want) / want))
            where = int(np.argmax(np.abs(got - want) / want))
            assert err < 1e-4, (
                f"for lam = {abs(lam):.3g} e^({np.angle(lam):.3g}i) at omega = "
                f"{omega[where]:.3f} you give {got[where]:.4g}, the sum is {want[where]:.4g}")
        return "matches the float64 sum of lam^k e^(-i omega k) for three modes"

    return _verdict("mode spectrum", check)


def check_dt_for_radius(dt: float, *, radius: float = 0.999) -> Verdict:
    """dt: the S4D-Lin step whose eigenvalues (Re A = -1/2, ZOH) have |lambda| = radius."""

    def check():
        if dt is None:
            raise NotAttempted
        got = math.exp(-0.5 * dt)
        assert abs(got - radius) < 1e-5, f"with dt = {dt:.3e}, |lambda| = {got:.6f}, not {radius}"
        return f"dt = {dt:.4e} gives |lambda| = exp(-dt/2) = {got:.6f}"

    return _verdict("S4D step", check)


def check_memory_radius(r: float | None, *, steps: int = 1024, keep: float = 0.01) -> Verdict:
    """r: the smallest |lambda| for which an impulse keeps `keep` of its amplitude after
    `steps` steps (|lambda|^steps = keep)."""

    def check():
        if r is None:
            raise NotAttempted
        want = keep ** (1.0 / steps)
        assert abs(r - want) < 1e-5, (
            f"|lambda| = {r:.6f} keeps {r**steps:.3g} of an impulse after {steps} steps, "
            f"not {keep}")
        return f"|lambda| = {want:.5f} (1 - |lambda| = {1 - want:.2e}) keeps {keep} after {steps}"

    return _verdict("memory radius", check)


def solution(name: str, *args, **kwargs) -> Any:
    """Show the reference solution `name` from solutions.py, check it, and return it.

    Hidden (returns None) when LRUX_HIDE_SOLUTIONS=1 or solutions.py is absent.
    """
    from IPython.display import Code, display

    if HIDE_SOLUTIONS:
        print(f"(the reference solution for '{name}' is hidden in this course)")
        return None
    try:
        import solutions
    except ImportError:
        print(f"(no solutions.py next to this notebook: '{name}' has no reference solution)")
        return None
    value = getattr(solutions, name)
    if callable(value):
        display(Code(inspect.getsource(value), language="python"))
    else:
        display(Code(f"{name} = {value!r}", language="python"))
    return value
