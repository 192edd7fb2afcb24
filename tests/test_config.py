"""config: every setting declared once (SETTINGS) becomes a flag, a JVM key and a resume rule."""

from __future__ import annotations

import argparse

import pytest

from nas_pattern import config
from nas_pattern.config import RESUMABLE_CHANGES, SETTING, SETTINGS, build_parser, new_config, resumed_config
from nas_pattern.networks import default_space

# A value for each setting that differs from its default, with the flags it needs beside it, and
# the value it becomes in the RunConfig.
SAMPLES: dict[str, tuple[list[str], object]] = {
    "dataset": (["--dataset", "mnist"], "mnist"),
    "data-dir": (["--data-dir", "/srv/data"], "/srv/data"),
    "network": (["--network", "rnn"], "rnn"),
    "space": (["--space", "docs/examples/cnn-skips.json"], "docs/examples/cnn-skips.json"),
    "agent": (["--agent", "evolution"], "evolution"),
    "episodes": (["--episodes", "7"], 7),
    "children-per-update": (["--children-per-update", "3"], 3),
    "epochs": (["--epochs", "2"], 2),
    "train-limit": (["--train-limit", "123"], 123),
    "final-epochs": (["--final-epochs", "2"], 2),
    "child-timeout": (["--child-timeout", "9.5"], 9.5),
    "time-limit": (["--time-limit", "1.5h"], 5400.0),
    "reward": (["--reward", "accuracy-size", "--target-params", "1000"], "accuracy-size"),
    "target-params": (["--reward", "accuracy-size", "--target-params", "1000"], 1000),
    "size-weight": (["--reward", "accuracy-size", "--target-params", "1000", "--size-weight", "-0.1"], -0.1),
    "seed": (["--seed", "5"], 5),
    "device": (["--device", "cpu"], "cpu"),
    "deterministic": (["--deterministic"], True),
    "executor": (["--executor", "ray"], "ray"),
    "children-at-once": (["--children-at-once", "2"], 2),
    "no-cuda-graphs": (["--no-cuda-graphs"], False),  # its value: whether CUDA graphs are used
    "gpus-per-child": (["--executor", "ray", "--gpus-per-child", "0.5"], 0.5),
    "ray-address": (["--executor", "ray", "--ray-address", "auto"], "auto"),
    "weight-sharing": (["--weight-sharing"], True),
    "shared-steps": (["--weight-sharing", "--shared-steps", "7"], 7),
    "shared-val-images": (["--weight-sharing", "--shared-val-images", "100"], 100),
    "shared-lr": (["--weight-sharing", "--shared-lr", "0.01"], 0.01),
    "derive-top": (["--weight-sharing", "--derive-top", "3"], 3),
    "no-tensorboard": (["--no-tensorboard"], False),  # its value: whether event files are written
}


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_every_setting_is_a_flag_and_only_the_settings_and_resume_are() -> None:
    assert set(vars(parse([]))) == {s.dest for s in SETTINGS} | {"resume"}
    assert {s.name for s in SETTINGS if s.at is not None} == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_flag_lands_where_its_setting_says(name: str) -> None:
    argv, expected = SAMPLES[name]
    made = new_config(parse([*argv, "--run-dir", "/tmp/x"]))
    assert SETTING[name.replace("-", "_")].value(made) == expected
    assert SETTING[name.replace("-", "_")].value(new_config(parse([]))) != expected or name == "device"


@pytest.mark.parametrize("name", [s.name for s in SETTINGS if s.resume == "fixed" and s.name != "space"])
def test_a_resume_refuses_to_change_a_fixed_setting(name: str) -> None:
    stored = new_config(parse(["--run-dir", "/tmp/x"]))
    given = SAMPLES[name][0]
    at = given.index(f"--{name}")
    argv = given[at:at + (1 if SETTING[name.replace("-", "_")].switch else 2)]  # the flag alone
    with pytest.raises(ValueError, match=f"cannot resume /tmp/x with --{name} .*start a new run to change it"):
        resumed_config(parse([*argv, "--resume", "/tmp/x"]), stored, default_space("cnn"))


@pytest.mark.parametrize("name", [s.replace("_", "-") for s in RESUMABLE_CHANGES])
def test_a_resume_applies_a_setting_it_may_change(name: str) -> None:
    stored = new_config(parse(["--run-dir", "/tmp/x"]))
    argv, expected = SAMPLES[name]
    resumed = resumed_config(parse([*argv, "--resume", "/tmp/x"]), stored, default_space("cnn"))
    assert SETTING[name.replace("-", "_")].value(resumed) == expected
    assert resumed.run_dir == "/tmp/x"
    untouched = [s for s in SETTINGS if s.at is not None and s.name not in " ".join(argv)]
    assert all(s.value(resumed) == s.value(stored) for s in untouched)


def test_a_resume_may_not_give_ray_flags_to_a_local_search() -> None:
    stored = new_config(parse(["--run-dir", "/tmp/x"]))
    with pytest.raises(ValueError, match="are for --executor ray; /tmp/x was searched with the local executor"):
        resumed_config(parse(["--gpus-per-child", "0", "--resume", "/tmp/x"]), stored, default_space("cnn"))


def test_the_resume_help_names_the_settings_a_resume_may_change() -> None:
    text = "".join(build_parser().format_help().split())  # argparse wraps lines, within names too
    assert all(SETTING[dest].flag in text.split("maychange:")[1] for dest in RESUMABLE_CHANGES)


def test_the_cli_takes_no_abbreviated_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(["--epoch", "2"])
    assert exit_.value.code == config.EXIT_BAD_INPUT
    assert "unrecognized arguments: --epoch 2" in capsys.readouterr().err


def test_a_data_dir_is_recorded_absolute_so_that_a_resume_from_elsewhere_finds_it(tmp_path, monkeypatch) -> None:
    """config.json kept --data-dir as typed: a resume or `train RUN` from another working directory
    looked for data/mine.npz there, and said it was not there."""
    monkeypatch.chdir(tmp_path)
    made = new_config(parse(["--dataset", "npz", "--data-dir", "data/mine.npz", "--run-dir", "/tmp/x"]))
    assert made.data_dir == str(tmp_path / "data" / "mine.npz")
    resumed = resumed_config(parse(["--data-dir", "../moved.npz", "--resume", "/tmp/x"]), made, default_space("cnn"))
    assert resumed.data_dir == str(tmp_path.parent / "moved.npz")
    assert new_config(parse(["--run-dir", "/tmp/x"])).data_dir is None  # Debian's Fashion-MNIST, as before
