"""The child trainer: its fast path (bf16 autocast, channels-last) learns what the plain fp32 path learns."""

from __future__ import annotations

import re

import pytest
import torch

from nas_pattern import CNN, Dataset, TrainConfig
from nas_pattern.bench.cli import main as bench
from nas_pattern.bench.common import REFERENCE_CNN
from nas_pattern.trainer import cpu_precision, use_bf16

PLAIN = TrainConfig(precision="fp32", channels_last=False)
FAST = TrainConfig(precision="bf16", channels_last=True)


@pytest.mark.slow
def test_the_fast_path_and_the_plain_path_agree(fashion: Dataset) -> None:
    """Same architecture, same seed, same 2,500 training images: test accuracy within 1 percentage point."""
    accuracy = {}
    for name, config in (("plain", PLAIN), ("fast", FAST)):
        network = CNN(REFERENCE_CNN, fashion.input_shape, fashion.num_classes, train_config=config, seed=0)
        network.build()
        network.train(fashion.train.head(2500), 1)  # bf16 without AVX-512 BF16 is slow: keep it small
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
    # two children, each at our batch and at the plain loop's; and in fp32 beside where auto chose bf16
    chosen = {"CNN": cpu_precision("conv"), "RNN": cpu_precision("recurrent")}
    assert len(rows) == sum(4 if precision == "bf16" else 2 for precision in chosen.values())
    for row in rows:
        assert float(re.search(r" (\d+\.\d+)x ", row).group(1)) > 0  # the ratio to the plain loop
        assert row.split()[-1] in ("fp32", "(auto)")
    assert f"CNN {chosen['CNN']}, RNN {chosen['RNN']}" in out
    assert "policy() sample" in out and "of the search" in out


def test_precision_auto_on_a_cpu_follows_the_measurement(monkeypatch) -> None:
    from nas_pattern import trainer

    network = CNN(REFERENCE_CNN, (1, 28, 28), 10, train_config=TrainConfig(), seed=0)
    network.build()
    assert network.module is not None
    cpu = torch.device("cpu")
    for seconds, expected in (({"fp32": 1.0, "bf16": 0.5}, True), ({"fp32": 1.0, "bf16": 0.95}, False),
                              ({"fp32": 1.0, "bf16": 3.0}, False)):
        monkeypatch.setattr(trainer, "_probe", lambda kind, threads, s=seconds: s)
        assert use_bf16(network.module, TrainConfig(), cpu) is expected  # bf16 only when clearly faster
        assert use_bf16(network.module, TrainConfig(precision="fp32"), cpu) is False  # asked for: obeyed
    assert trainer.cpu_precision("other") == "fp32"


def test_the_precision_probe_measures_both_and_leaves_the_generators_alone() -> None:
    from nas_pattern import trainer

    before = torch.get_rng_state()
    seconds = trainer._probe("recurrent", torch.get_num_threads())
    assert torch.equal(torch.get_rng_state(), before)
    assert 0 < seconds["fp32"] < 5 and seconds["bf16"] > 0
    assert trainer.cpu_precision("recurrent") in ("fp32", "bf16")


def test_the_benchmark_refuses_an_unknown_section(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench(["trainers"])
    assert exit_.value.code == 2
    assert "unknown section 'trainers'" in capsys.readouterr().err
