"""The child trainer: its fast path (bf16 autocast, channels-last) learns what the plain fp32 path learns."""

from __future__ import annotations

import pytest

from nas_pattern import CNN, Dataset, TrainConfig
from nas_pattern.bench.cli import main as bench
from nas_pattern.bench.common import REFERENCE_CNN
from nas_pattern.trainer import use_bf16

PLAIN = TrainConfig(precision="fp32", channels_last=False)
FAST = TrainConfig(precision="bf16", channels_last=True)


@pytest.mark.slow
def test_the_fast_path_and_the_plain_path_agree(fashion: Dataset) -> None:
    """Same architecture, same seed, same 5,000 images: test accuracy within 1 percentage point."""
    accuracy = {}
    for name, config in (("plain", PLAIN), ("fast", FAST)):
        network = CNN(REFERENCE_CNN, fashion.input_shape, fashion.num_classes, train_config=config, seed=0)
        network.build()
        network.train(fashion.train.head(5000), 1)
        assert network.module is not None
        assert use_bf16(network.module, config, network.device) == (name == "fast")
        accuracy[name] = network.evaluate(fashion.test.head(5000)).accuracy
    assert accuracy["plain"] > 0.7
    assert abs(accuracy["fast"] - accuracy["plain"]) <= 0.01, accuracy


def test_the_step_size_follows_the_square_root_rule() -> None:
    assert TrainConfig(batch_size=32).step_size == pytest.approx(2e-3)
    assert TrainConfig(batch_size=128).step_size == pytest.approx(4e-3)


@pytest.mark.parametrize("field, value, message", [
    ("precision", "fp16", "precision must be auto, fp32 or bf16, got 'fp16'"),
    ("batch_size", 0, "batch sizes must be >= 1"),
])
def test_a_bad_train_config_is_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.slow
def test_the_benchmark_prints_ratios_against_the_plain_loop(capsys) -> None:
    assert bench(["trainer", "controller", "--device", "cpu", "--train-limit", "500", "--updates", "2"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.lstrip().startswith(("CNN conv 5x32", "RNN gru 128"))]
    assert len(rows) == 4  # two children, each at our batch and at the plain loop's
    for row in rows:
        ratio = float(row.split()[-4].rstrip("x"))
        assert ratio > 0
    assert "policy() sample" in out and "of the search" in out


def test_the_benchmark_refuses_an_unknown_section(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench(["trainers"])
    assert exit_.value.code == 2
    assert "unknown section 'trainers'" in capsys.readouterr().err
