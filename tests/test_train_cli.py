"""The training CLI on bad input: one `error:` line and exit status 2 (3: data missing),
never a traceback, never a silent accept; every check that needs no data runs before data.

The census runs each bad input through `lrux.train.cli.main` in this process (a traceback
would be an exception escaping `main`); a few cases also run as real subprocesses.
"""

import json
import os
import subprocess
import sys

import pytest

from lrux.data import generate_listops
from lrux.train.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (flags after --task TASK --preset smoke, a fragment the error line must contain)
BAD_INPUTS = [
    (["--set", "deph=4"], "did you mean 'depth'"),
    (["--set", "depth=four"], "expected an integer"),
    (["--set", "depth"], "NAME=VALUE"),
    (["--set", "=3"], "NAME=VALUE"),
    (["--set", "depth=0"], "depth must be >= 1"),
    (["--set", "lr=-1"], "lr must be > 0"),
    (["--set", "lr=nan"], "--set lr"),
    (["--set", "eval_batch_size=-3"], "eval_batch_size must be >= 0"),
    (["--set", "eval_every=-1"], "eval_every must be in [0, 2147483647]"),
    (["--set", "dropout=1.5"], "dropout must be in [0, 1)"),
    (["--set", "warmup_frac=1"], "warmup_frac must be in [0, 1)"),
    (["--set", "norm=batchh"], "did you mean 'batch'"),
    (["--set", "glu=quarter"], "glu must be one of"),
    (["--set", "combine=both"], "combine must be one of"),
    (["--set", "bidirectional=maybe"], "expected a boolean"),
    (["--set", "checkpoint_every=soon"], "checkpoint_every"),
    (["--set", 'param_groups={"B_re": "fast"}'], "param_groups"),
    (["--set", "param_groups=[1]"], "JSON object"),
    (["--set", "data.foo=1"], "expected data.generate.KEY=VALUE or data.load.KEY=VALUE"),
    (["--set", "task=text"], "use the --task flag"),
    (["--set", "model=s5"], "use the --model flag"),
    (["--set", "r_mx=0.99"], "r_mx"),
    (["--set", "mixer.blocks=3"], "blocks"),
    (["--set", "d_state=0"], "d_state must be >= 1"),
    (["--model", "lruu"], "did you mean 'lru'"),
    (["--steps", "0"], "argument --steps: expected an integer in [1, 2147483647]"),
    (["--num-processes", "2"], "needs all of"),
    (["--num-processes", "2", "--process-id", "5", "--coordinator-address", "x:1"],
     "--process-id=5"),
    (["--task", "mnist"], "invalid choice: 'mnist'"),
    (["--preset", "huge"], "invalid choice: 'huge'"),
    (["--seed", "x"], "argument --seed: expected an integer"),
    # every value against its declared type and range, at parse time (issue 26)
    (["--set", "data.load.max_length=abc"], "--set data.load.max_length=abc: expected an "
     "integer >= 1, got 'abc'"),
    (["--set", "data.load.max_length=[512]"], "expected an integer >= 1, got [512]"),
    (["--set", "data.load.tokenizer=words"], "expected one of 'bytes', 'chars', got 'words'"),
    (["--set", "data.load.min_freq=1e400"], "--set data.load.min_freq=1e400: expected an "
     "integer"),
    (["--set", "data.load.difficulty=14"], "text has no load option 'difficulty'"),
    (["--set", "data.load=5"], "expected data.generate.KEY=VALUE or data.load.KEY=VALUE"),
    (["--set", 'data={"load": {"max_length": "x"}}'], "preset field data.load.max_length='x'"),
    (["--set", "data.generate.train=100"], "lrux does not generate text data"),
    (["--task", "listops", "--set", "data.generate.train=many"],
     "--set data.generate.train=many: expected an integer >= 0"),
    (["--task", "listops", "--set", "data.generate.size=32"], "listops has no generate option "
     "'size'"),
    (["--set", "weight_decay=1e400"], "--set weight_decay=1e400: expected a finite number, "
     "got inf"),
    (["--set", "grad_clip=inf"], "--set grad_clip=inf: expected a finite number"),
    (["--set", "min_lr=nan"], "--set min_lr=nan: expected a finite number, got nan"),
    (["--set", "bn_momentum=[0.9]"], "expected a finite number"),
    (["--set", "log_every=1e30"], "--set log_every=1e30: expected an integer, got 1e+30"),
    (["--set", "steps=99999999999999999999"], "expected an integer in [1, 2147483647]"),
    (["--set", "eval_batch_size=12345678901234567890"], "expected an integer of at most 64 "
     "bits"),
    (["--steps", "3000000000"], "argument --steps: expected an integer in [1, 2147483647]"),
    (["--seed", "-1"], "argument --seed: expected an integer in [0, 4294967295]"),
    (["--seed", "4294967296"], "argument --seed: expected an integer in [0, 4294967295]"),
    (["--model", "diag-reim", "--set", "mixer.gamma=maybe"], "mixer 'diag-reim' option gamma: "
     "expected a boolean"),
    (["--set", "max_phase=nan"], "mixer 'lru' option max_phase: expected a finite number"),
    (["--set", "r_min=[0.5]"], "mixer 'lru' option r_min: expected a finite number"),
    (["--set", "mixer.scan_mode=fast"], "expected one of 'auto', 'parallel'"),
    (["--set", "d_model=100000"], "training holds 4 copies"),
    (["--out", ""], "argument --out: empty (an unset variable in a script?)"),
    (["--data-dir", " "], "argument --data-dir: empty"),
    (["--tensorboard", "{file}"], "exists and is not a folder"),
    (["--num-processes", "0"], "argument --num-processes: expected an integer >= 1"),
    (["--coordinator-timeout", "0"], "argument --coordinator-timeout: expected a finite "
     "number > 0"),
]


def _call(args, capsys):
    try:
        code = main(args)
    except SystemExit as e:  # argparse
        code = e.code
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


def census(tmp_path, capsys) -> list[tuple[list[str], str, str]]:
    """(flags, outcome, error text) of every bad input: outcome "clear" (status 2, one
    `error:` line with the fragment), "unclear (exit N)", "traceback" or "silent accept"."""
    file = tmp_path / "a_file"
    file.write_text("mine")
    outcomes = []
    for extra, fragment in BAD_INPUTS:
        extra = [str(file) if a == "{file}" else a for a in extra]
        task = [] if "--task" in extra else ["--task", "text"]
        args = [*task, "--preset", "smoke", "--data-dir", str(tmp_path / "nodata"),
                "--out", str(tmp_path / "run"), "--no-progress", *extra]
        try:
            code, lines = _call(args, capsys)
        except Exception as e:  # noqa: BLE001 - a traceback is what the census counts
            outcomes.append((extra, "traceback", f"{type(e).__name__}: {e}"))
            continue
        text = " ".join(lines)
        if code == 0:
            kind = "silent accept"
        elif code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and \
                fragment in text:
            kind = "clear"
        else:
            kind = f"unclear (exit {code})"
        outcomes.append((extra, kind, text[:300]))
    assert file.read_text() == "mine"
    return outcomes


def test_census_every_bad_input_gets_one_clear_error_line(tmp_path, capsys):
    outcomes = census(tmp_path, capsys)
    counts = {k: sum(o[1].split(" (")[0] == k for o in outcomes)
              for k in ("clear", "unclear", "traceback", "silent accept")}
    bad = [o for o in outcomes if o[1] != "clear"]
    assert not bad, f"{counts}\n" + "\n".join(f"{o[0]}: {o[1]}: {o[2]}" for o in bad)
    assert counts == {"clear": len(BAD_INPUTS), "unclear": 0, "traceback": 0,
                      "silent accept": 0}
    assert len(BAD_INPUTS) == 61
    assert not os.path.exists(tmp_path / "nodata")  # nothing was generated or written
    assert not os.path.exists(tmp_path / "run" / "config.json")


def test_missing_data_exits_3_with_the_loader_message(tmp_path, capsys):
    code, lines = _call(["--task", "text", "--preset", "smoke", "--data-dir",
                         str(tmp_path), "--out", str(tmp_path / "run")], capsys)
    assert code == 3 and len(lines) == 1 and lines[0].startswith("error: text: no data found")


def test_out_that_is_a_file_or_under_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("mine")
    for out in (f, f / "sub"):
        code, lines = _call(["--task", "text", "--preset", "smoke", "--data-dir",
                             str(tmp_path), "--out", str(out)], capsys)
        assert code == 2 and lines[0].startswith("error: --out"), lines
    assert f.read_text() == "mine"


def test_paper_preset_refuses_a_smoke_sized_set(tmp_path, capsys):
    data = tmp_path / "data"
    generate_listops(data, train=60, val=8, test=8, min_length=20, max_length=100, workers=1,
                     progress=False)
    code, lines = _call(["--task", "listops", "--preset", "paper", "--data-dir", str(data),
                         "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "96,000" in lines[0] and "holds 60" in lines[0]
    assert "require_full_data=false" in lines[0]
    assert not os.path.exists(tmp_path / "run" / "config.json")


def test_help_lists_the_preset_fields(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ("depth", "checkpoint_every", "dropout_tied", "require_full_data", "data.load"):
        assert name in out


@pytest.mark.slow
def test_cli_entry_points_print_one_line_without_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="2")
    args = ["--task", "text", "--preset", "smoke", "--data-dir", str(tmp_path),
            "--out", str(tmp_path / "run"), "--set", "batch_size=3"]
    for cmd in ([sys.executable, "-m", "lrux.train"],
                [sys.executable, os.path.join(ROOT, "examples", "train_lra.py")]):
        res = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True,
                             timeout=180, cwd=str(tmp_path))
        assert res.returncode == 2, res.stderr[-2000:]
        assert "Traceback" not in res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "divisible by the number of devices (2)" in lines[0], lines


def test_print_config_is_the_preset_after_overrides(capsys):
    code = main(["--task", "pathx", "--preset", "paper", "--out", "unused", "--print-config",
                 "--set", "r_min=0.5", "--set", "max_phase=pi/5"])
    assert code == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["mixer_options"]["r_min"] == 0.5
    assert abs(cfg["mixer_options"]["max_phase"] - 3.14159265 / 5) < 1e-6
    assert cfg["name"] == "paper" and cfg["eval_every"] == 0
