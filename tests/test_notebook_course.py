"""notebooks/course.py and notebooks/solutions.py: every exercise check accepts its reference
solution, rejects a wrong answer in one line (no traceback, no oracle) and reports a stub as
not attempted; solutions hide with LRUX_HIDE_SOLUTIONS=1; the ring slider's log scale; the
live figures' redraws, and a figure that only retitles itself is caught; the text's claims;
the seed; colours and the paper's numbers for any registered rung; the course's benchmark
scripts (benchmarks/kernel_toy.py, benchmarks/ladder_reference.py) and their committed JSON."""

import importlib
import importlib.util
import math
import pathlib
import sys

import numpy as np
import pytest

pytest.importorskip("IPython")
pytest.importorskip("matplotlib")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import course  # noqa: E402
import solutions  # noqa: E402


def stub(*args, **kwargs):
    raise NotImplementedError


def _wrong_ring_init(key, n, r_min, r_max, max_phase):
    """|lambda| (not |lambda|^2) uniform: the classic mistake."""
    import jax
    import jax.numpy as jnp

    k1, k2 = jax.random.split(key)
    r = r_min + (r_max - r_min) * jax.random.uniform(k1, (n,))
    return r * jnp.exp(1j * max_phase * jax.random.uniform(k2, (n,)))


CASES = [  # check, reference solution (as the notebook passes it), wrong answer
    (course.check_kernel, solutions.kernel,
     lambda lam, B, C, n: solutions.kernel(lam, B, C, n) * 1.01),
    (course.check_change_of_basis, solutions.diagonalize,
     lambda A, B, C: (lambda lam, b, c: (lam, b, c.conj()))(*solutions.diagonalize(A, B, C))),
    (course.check_ring_init, solutions.ring_init, _wrong_ring_init),
    (course.check_ring_factor, solutions.ring_factor,
     lambda a, b: 1.0 / (1.0 - (a**2 + b**2) / 2)),  # 1 / (1 - mean r^2): Jensen's mistake
    (course.check_thin_ring_r_min, solutions.thin_ring_r_min(), 0.9),
    (course.check_mode_spectrum, solutions.mode_spectrum,
     lambda lam, w: np.abs(1.0 / (1.0 - lam * np.exp(1j * np.asarray(w))))),  # e^{+i w}
    (course.check_dt_for_radius, solutions.dt_for_radius(), -math.log(0.999)),
    (course.check_memory_radius, solutions.memory_radius(), 0.99),
]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("check,reference,wrong", CASES, ids=IDS)
def test_check_accepts_the_reference_solution(check, reference, wrong, capsys):
    assert bool(check(reference)) is True
    assert ": correct." in capsys.readouterr().out


@pytest.mark.parametrize("check,reference,wrong", CASES, ids=IDS)
def test_check_rejects_a_wrong_answer_in_one_line(check, reference, wrong, capsys):
    """One line that says what is wrong; no traceback, so no line of the check's oracle."""
    assert bool(check(wrong)) is False
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1 and ": not yet. " in lines[0], out.out
    assert "Traceback" not in out.out + out.err and out.err == ""
    assert "np.stack" not in out.out and "powers" not in out.out  # check_kernel's oracle


def test_a_wrong_kernel_gets_a_hint_not_the_formula(capsys):
    """The typical mistakes are named (a complex kernel, lam^1 first) and the message gives
    the size of the error, never the reference computation."""
    assert not course.check_kernel(lambda lam, B, C, n: solutions.kernel(lam, B, C, n + 1)[1:])
    assert "equals the expected K_(k+1): the kernel starts at lam^0" in capsys.readouterr().out
    assert not course.check_kernel(
        lambda lam, B, C, n: np.einsum("hn,jn,nm->jhm", C, lam[None] ** np.arange(n)[:, None], B))
    assert "your kernel is complex" in capsys.readouterr().out
    assert not course.check_kernel(lambda lam, B, C, n: solutions.kernel(lam, B, C, n)[:, :2])
    assert "expected shape (12, 3, 3), got (12, 2, 3)" in capsys.readouterr().out


def test_a_student_exception_is_one_line_naming_where(capsys):
    def divides_by_zero(r_min, r_max):
        return math.log((1 - r_min**2) / (1 - r_max**2)) / (r_max**2 - r_min**2)

    assert not course.check_ring_factor(divides_by_zero)
    out = capsys.readouterr().out.strip()
    assert out == ("ring factor: not yet. at the ring [0.5, 0.5] your code raised "
                   "ZeroDivisionError: float division by zero"), out


@pytest.mark.parametrize("check,reference,wrong", CASES, ids=IDS)
def test_check_reports_a_stub_as_not_attempted(check, reference, wrong, capsys):
    unanswered = stub if callable(reference) else None
    assert bool(check(unanswered)) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_solutions_are_shown_and_hidden_by_one_flag(monkeypatch, capsys):
    assert course.solution("ring_factor") is solutions.ring_factor
    monkeypatch.setenv("LRUX_HIDE_SOLUTIONS", "1")
    hidden = importlib.reload(course)
    try:
        assert hidden.solution("ring_factor") is None
        assert "hidden" in capsys.readouterr().out
    finally:
        monkeypatch.delenv("LRUX_HIDE_SOLUTIONS")
        importlib.reload(course)


def test_ring_slider_log_scale_round_trips_the_papers_rings():
    control = course.ring_slider()
    for r_min, r_max, _ in course.RINGS.values():
        coords = control.inverse((r_min, r_max))
        assert 0.0 <= coords[0] <= coords[1] <= course.MAX_DIGITS
        back = control.transform(coords)
        assert back == pytest.approx((r_min, r_max), abs=1e-12)
    assert course.r_of_digits(course.MAX_DIGITS) == pytest.approx(0.99999)  # reachable
    assert course.fmt_r(0.9999) == "0.9999" and course.fmt_r(0.9) == "0.9"
    assert course.fmt_r(0.0) == "0"


def test_live_figure_redraws_for_other_values_and_presets(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setattr(course, "STATIC", True)
    shown = []
    monkeypatch.setattr(course.Live, "_show_static", lambda self: shown.append(self.render()))
    calls = []

    def draw(ring, phase):
        calls.append((ring, phase))
        fig, ax = course.figure(1)
        ax.plot([0, 1], [ring[0], ring[1] * phase])
        return fig

    course.LIVE.clear()
    course.Live(draw, {"ring": course.ring_slider(0.9, 0.999), "phase": course.phase_slider()},
                presets={k: {"ring": v[:2], "phase": v[2]} for k, v in course.RINGS.items()})
    assert calls[0][0] == pytest.approx((0.9, 0.999)) and len(shown) == 1
    report = course.exercise_live_figures()["draw"]
    assert report["changed"] and all(report["changed"].values())
    assert "PathX" in report["changed"]  # a preset that differs from the start is drawn
    assert "sCIFAR, Pathfinder" not in report["changed"]  # the start itself is not
    assert len(report["seconds"]) == len(calls) and all(s > 0 for s in report["seconds"])
    assert np.isclose(calls[-1][0][1], 0.9999)  # the last preset drawn is PathX's ring
    course.LIVE.clear()


def test_time_notebooks_rejects_an_unknown_notebook_and_renders_its_table(capsys):
    import time_notebooks

    assert time_notebooks.main(["99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no notebook '99'") and "01_the_lru" in err
    live = {"f": {"first_s": 1.0, "redraws": 2, "median_s": 0.3, "max_s": 0.5,
                  "median_cpu_s": 0.1, "max_cpu_s": 0.2}}
    rec = {"small": False, "wall_s": 42.0, "kernel_cpu_s": 20.0, "load_before": [1.0],
           "load_after": [2.0], "live": live}
    table = time_notebooks.markdown({"01_the_lru": rec})
    assert "| `01_the_lru` | 42 s | 20 s | 1.0 / 2.0 | 0.30 s (0.10 s) | 0.50 s (0.20 s) |" in table
    assert table.endswith("Slowest slider redraw: 0.20 s of CPU (01_the_lru/f); 1-minute load "
                          "during the runs 1.0-2.0.")


def test_the_readme_run_times_are_the_measured_ones():
    """notebooks/README.md shows exactly the table of reference/timings.json."""
    import json

    import time_notebooks

    timings = json.loads((NOTEBOOKS / "reference" / "timings.json").read_text())
    assert set(timings) == {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py")}
    assert not any(rec["small"] for rec in timings.values())  # full size
    assert time_notebooks.markdown(timings) in (NOTEBOOKS / "README.md").read_text()


def test_a_figure_that_only_retitles_itself_is_caught(monkeypatch):
    """The notebooks' tests require the *data* pixels (texts and reference lines hidden) to
    change with a slider: a draw that ignores its slider but prints it in the title (the
    reviewer's mutation of 03's draw_variance) changes the PNG, not the data."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setattr(course, "STATIC", True)
    monkeypatch.setattr(course.Live, "_show_static", lambda self: None)

    def ignores_its_slider(x):
        fig, ax = course.figure(1)
        ax.plot([0, 1], [0, 1], label=f"x = {x}")
        ax.axhline(x, color="k")  # a reference line that follows x: hidden, too
        ax.set_title(f"x = {x}")
        ax.legend()
        return fig

    def follows_its_slider(x):
        fig, ax = course.figure(1)
        ax.plot([0, 1], [0, x])
        return fig

    course.LIVE.clear()
    course.Live(ignores_its_slider, {"x": course.float_slider(0.5, 0.0, 1.0, 0.1, "x")})
    course.Live(follows_its_slider, {"x": course.float_slider(0.5, 0.0, 1.0, 0.1, "x")})
    report = course.exercise_live_figures()
    course.LIVE.clear()
    assert all(report["ignores_its_slider"]["changed"].values())  # the PNG changes ...
    assert not any(report["ignores_its_slider"]["data_changed"].values())  # ... its data not
    assert all(report["follows_its_slider"]["data_changed"].values())


def test_claims_pass_quietly_and_fail_naming_the_sentence(capsys):
    assert course.claims("here", ("one is one", 1 == 1, "1"), ("two", True, "")) == 2
    assert capsys.readouterr().out.startswith("checked: the 2 statements of here hold")
    with pytest.raises(course.ClaimError) as err:
        course.claims("3.1", ("it converges", False, "it diverged at step 262"), ("ok", True, ""))
    assert str(err.value) == ("3.1, seed 0: the text says 'it converges' (found: it diverged "
                              "at step 262)")


def test_the_seed_moves_every_key_and_rejects_a_non_integer(monkeypatch):
    import jax

    assert course.SEED == 0 and jax.random.key_data(course.key(3)).tolist() == \
        jax.random.key_data(jax.random.key(3)).tolist()
    monkeypatch.setenv("LRUX_COURSE_SEED", "1")
    assert importlib.reload(course).SEED == 1
    assert jax.random.key_data(course.key(3)).tolist() == \
        jax.random.key_data(jax.random.key(1003)).tolist()
    monkeypatch.setenv("LRUX_COURSE_SEED", "one")
    try:
        with pytest.raises(ValueError, match="LRUX_COURSE_SEED='one': expected an integer"):
            importlib.reload(course)
    finally:
        monkeypatch.delenv("LRUX_COURSE_SEED")
        importlib.reload(course)


def test_colours_come_from_the_registry_and_a_new_rung_gets_its_own():
    """Issue 24: no hand table keyed by name; a newly registered rung has a colour and a line
    style (no KeyError), distinct from the other rungs', and the paper's row is dashes."""
    from lrux.registry import MIXERS, MixerEntry, register_mixer

    ladder = lrux_names("ladder")
    assert course.COLORS["lru"] == "#1f77b4" and course.COLORS["rnn-tanh"] == "#d62728"
    assert len({course.COLORS[n] for n in MIXERS}) == len(MIXERS)  # one colour per mixer
    entry = MIXERS["diag-ring"]
    with register_mixer("diag-toy", MixerEntry(entry.layer, dict(entry.options), "a toy rung",
                                               "ladder", ring=True)):
        colour = course.COLORS["diag-toy"]
        assert colour not in {course.COLORS[n] for n in MIXERS if n != "diag-toy"}
        assert course.STYLES["diag-toy"] is not None and course.label("diag-toy")["label"]
        assert course.paper_row("diag-toy") == ("-",) * len(course.PAPER_TASKS)
    assert course.COLORS["not-registered"] == "0.5"
    assert [course.paper_row(n)[-1] for n in ladder][-1] == "94.2"  # the LRU on PathX


def lrux_names(family):
    from lrux.registry import mixer_names

    return mixer_names(family)


def test_fmt_r_keeps_the_digits_a_memory_depends_on():
    assert course.fmt_r(0.99898) == "0.99898"  # the reviewer's drag to x = 2.99
    assert course.fmt_r(course.r_of_digits(3.0)) == "0.999"
    assert course.fmt_r(0.9995) == "0.9995"


def _load(path_in_repo):
    path = NOTEBOOKS.parent / path_in_repo
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_majority_vote_labels_and_the_registry_rings():
    ref = _load("benchmarks/ladder_reference.py")
    split = ref.majority_vote(200, 9, seed=3)
    for tokens, label in zip(split.inputs, split.labels, strict=True):
        assert set(tokens) <= {1, 2} and label == int(sum(t == 2 for t in tokens) > 4.5)
    assert np.array_equal(split.inputs, ref.majority_vote(200, 9, seed=3).inputs)
    assert 0.3 < split.labels.mean() < 0.7
    from lrux.registry import MIXERS, MixerEntry, register_mixer

    ring = ref.CONFIG["ring"]
    assert ref.ring_options("lru", ring) == ring and ref.ring_options("diag-reim", ring) == {}
    entry = MIXERS["diag-ring"]
    with register_mixer("diag-toy", MixerEntry(entry.layer, dict(entry.options), "a toy rung",
                                               "ladder", ring=True)):
        assert ref.ring_options("diag-toy", ring) == ring  # a new ring rung gets its ring
    run = {"rung": "x", "length": 32, "accuracy": 0.55}
    assert ref.failed(run, ref.CONFIG) and not ref.failed({**run, "accuracy": 0.9}, ref.CONFIG)
    skip = ref.skipped(run, 128, ref.CONFIG)
    assert skip["skipped"] and skip["length"] == 128 and "L = 32" in skip["reason"]
    assert ref.skipped(skip, 512, ref.CONFIG)["length"] == 512


def test_train_rung_trains_through_lrux(tmp_path):
    ref = _load("benchmarks/ladder_reference.py")
    cfg = {**ref.QUICK, "steps": 2, "batch": 2, "test": 4}
    run = ref.train_rung("lru", ref.ring_options("lru", cfg["ring"]), 8, cfg)
    assert run["finite"] and 0.0 <= run["accuracy"] <= 1.0 and len(run["curve"]) == 1


def test_the_committed_reference_runs_are_their_scripts_configs():
    """The JSONs the notebooks read were written by today's scripts (else rerun them)."""
    import json

    ref = _load("benchmarks/ladder_reference.py")
    ladder = json.loads((NOTEBOOKS / "reference" / "05_the_ladder.json").read_text())
    assert ladder["config"] == json.loads(json.dumps(ref.CONFIG))
    assert ladder["command"] == "python benchmarks/ladder_reference.py"
    lengths = ladder["config"]["lengths"]
    assert {(r["rung"], r["length"]) for r in ladder["runs"]} == {
        (n, length) for n in ladder["rungs"] for length in lengths}
    assert list(ladder["story"]) == list(ref.STORY)
    toy = _load("benchmarks/kernel_toy.py")
    results = NOTEBOOKS.parent / "benchmarks" / "results"
    bench = json.loads((results / "kernel_toy.json").read_text())
    assert bench["meta"]["config"] == json.loads(json.dumps(toy.CONFIG))
    assert bench["meta"]["seeds"] == 10 and len(bench["rows"]) == 20
    wide = json.loads((results / "kernel_toy_lru_2pi.json").read_text())  # phases up to 2 pi
    assert wide["meta"]["config"] == json.loads(json.dumps({**toy.CONFIG,
                                                            "max_phase": 2 * math.pi}))
    assert {r["model"] for r in wide["rows"]} == {"lru"} and len(wide["rows"]) == 10


def test_kernel_toy_runs_and_rejects_bad_flags(tmp_path, capsys):
    toy = _load("benchmarks/kernel_toy.py")
    assert toy.main(["--seeds", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --seeds 0")
    assert toy.main(["--models", "gru"]) == 2
    assert "expected lru and/or rnn-tanh" in capsys.readouterr().err
    assert toy.main(["--steps", "3"]) == 2  # would overwrite the committed reference
    assert "pass --out PATH" in capsys.readouterr().err
    out = tmp_path / "toy.json"
    assert toy.main(["--seeds", "1", "--steps", "3", "--out", str(out)]) == 0
    import json

    saved = json.loads(out.read_text())
    assert [r["model"] for r in saved["rows"]] == ["lru", "rnn-tanh"]
    assert saved["meta"]["command"] == "python benchmarks/kernel_toy.py --seeds 1 --steps 3"
    assert len(saved["rows"][0]["curve"]) == 1  # steps 0 (every 5)
