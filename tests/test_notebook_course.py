"""notebooks/course.py and notebooks/solutions.py: every exercise check accepts its reference
solution, rejects a wrong answer and reports a stub as not attempted; solutions hide with
LRUX_HIDE_SOLUTIONS=1; the ring slider's log scale and the live figures' redraws."""

import importlib
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
    (course.check_dt_for_radius, solutions.dt_for_radius(), -math.log(0.999)),
    (course.check_memory_radius, solutions.memory_radius(), 0.99),
]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("check,reference,wrong", CASES, ids=IDS)
def test_check_accepts_the_reference_solution(check, reference, wrong, capsys):
    assert check(reference) is True
    assert ": correct." in capsys.readouterr().out


@pytest.mark.parametrize("check,reference,wrong", CASES, ids=IDS)
def test_check_rejects_a_wrong_answer(check, reference, wrong):
    with pytest.raises(AssertionError):
        check(wrong)


@pytest.mark.parametrize("check,reference,wrong", CASES, ids=IDS)
def test_check_reports_a_stub_as_not_attempted(check, reference, wrong, capsys):
    unanswered = stub if callable(reference) else None
    assert check(unanswered) is False
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
