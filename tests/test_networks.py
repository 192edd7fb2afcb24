"""The Network contract, run over every child network, and what each adds (validation, spaces)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nas_pattern import CNN, CNN_SPACE, NETWORKS, RNN, RNN_SPACE, Architecture, Dataset, RandomAgent, SearchSpace
from nas_pattern.networks import default_space
from nas_pattern.networks.base import InvalidArchitecture


@pytest.fixture(params=sorted(NETWORKS))
def kind(request) -> str:
    return request.param


def sampled(kind: str, count: int = 4) -> list[Architecture]:
    agent = RandomAgent(default_space(kind))
    return [agent.policy().architecture for _ in range(count)]


def test_builds_for_sampled_architectures_with_the_right_output_shape(kind: str, small_fashion: Dataset) -> None:
    for architecture in sampled(kind):
        network = NETWORKS[kind](architecture, small_fashion.input_shape, small_fashion.num_classes)
        assert network.layers == []
        assert network.validate() == []
        network.build()
        assert network.module is not None
        logits = network.module(small_fashion.train.x[:5])
        assert logits.shape == (5, small_fashion.num_classes)
        assert network.params > 0
        assert network.layers and all(isinstance(line, str) for line in network.layers)


@pytest.mark.slow
def test_training_lowers_the_loss_on_real_images(kind: str, small_fashion: Dataset) -> None:
    architecture = sampled(kind, 1)[0]
    network = NETWORKS[kind](architecture, small_fashion.input_shape, small_fashion.num_classes)
    network.build()
    subset = small_fashion.train.head(512)
    before = network.evaluate(subset).loss
    network.train(subset, epochs=2)
    after = network.evaluate(subset)
    assert after.loss < before
    assert after.accuracy > 0.3  # well above chance (0.1)
    assert after.train_seconds > 0


# In its own process: pytest puts back the warning filters that importing nas_pattern adds.
EVEN_KERNEL = """
import torch
from nas_pattern import CNN, SearchSpace
from nas_pattern.data import Split
space = SearchSpace.from_json({"max_layers": 1, "decisions": [
    {"name": "filters", "choices": [4]}, {"name": "kernel_size", "choices": [4]},
    {"name": "pool_size", "choices": [1]}, {"name": "dropout_rate", "choices": [0.0]}]})
network = CNN(space.decode([0, 0, 0, 0]), (1, 28, 28), 10)
network.build()
data = Split(torch.zeros(64, 1, 28, 28), torch.zeros(64, dtype=torch.long), "train")
network.train(data, epochs=1)
print(network.evaluate(data).accuracy)
"""


@pytest.mark.slow
def test_an_even_kernel_trains_without_a_warning_among_the_search_lines() -> None:
    done = subprocess.run([sys.executable, "-c", EVEN_KERNEL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and 0.0 <= float(done.stdout) <= 1.0, done.stderr
    assert done.stderr == ""


def test_same_seed_same_child(kind: str, small_fashion: Dataset) -> None:
    architecture = sampled(kind, 1)[0]
    results = []
    for _ in range(2):
        network = NETWORKS[kind](architecture, small_fashion.input_shape, small_fashion.num_classes, seed=7)
        network.build()
        network.train(small_fashion.train.head(256), epochs=1)
        results.append(network.evaluate(small_fashion.val).accuracy)
    assert results[0] == results[1]


def test_evaluate_before_build_is_an_error(kind: str) -> None:
    network = NETWORKS[kind](sampled(kind, 1)[0], (1, 28, 28), 10)
    with pytest.raises(RuntimeError, match="call build\\(\\)"):
        network.evaluate(None)  # type: ignore[arg-type]


def test_default_spaces_fit_their_networks() -> None:
    CNN.check_space(CNN_SPACE)
    RNN.check_space(RNN_SPACE)


def test_cnn_rejects_pooling_below_one_pixel_with_a_reason() -> None:
    deep = SearchSpace.from_json({"max_layers": 6, "decisions": [
        {"name": "filters", "choices": [4]}, {"name": "kernel_size", "choices": [3]},
        {"name": "pool_size", "choices": [2]}, {"name": "dropout_rate", "choices": [0.0]}]})
    network = CNN(deep.decode([0] * 24), (1, 28, 28), 10)  # 28 -> 14 -> 7 -> 3 -> 1 -> 0
    assert network.validate() == ["layer 5 pools by 2 and shrinks the feature map below 1x1 (input 28x28)"]
    with pytest.raises(InvalidArchitecture, match=r"^cannot build: layer 5 pools by 2"):
        network.check(deep)
    assert CNN(deep.decode([0] * 24), (3, 64, 64), 10).validate() == []  # 64 -> 32 -> ... -> 1: fine


def test_cnn_classic_architecture_has_the_expected_layers() -> None:
    classic = CNN_SPACE.parse({"layers": [
        {"filters": 32, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.25},
        {"filters": 64, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0}]})
    network = CNN(classic, (1, 28, 28), 10)
    network.build()
    kinds = [line.split("(")[0] for line in network.layers]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Dropout", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert network.params == (1 * 25 * 32 + 32) + (32 * 25 * 64 + 64) + (7 * 7 * 64 * 10 + 10)


def test_rnn_reads_rows_in_both_directions() -> None:
    space = RNN_SPACE
    bi = space.parse({"layers": [{"cell_type": "gru", "hidden_units": 32, "dropout_rate": 0.0,
                                  "bidirectional": True}]})
    network = RNN(bi, (1, 28, 28), 10)
    network.build()
    assert network.module is not None
    images = torch.randn(3, 1, 28, 28)
    cell = network.module.recurrent[0]
    assert cell.bidirectional
    with torch.no_grad():
        output, _ = cell(images.permute(0, 2, 1, 3).flatten(2))  # (B, 28 rows, 2 directions * 32)
    seen: list[torch.Tensor] = []
    network.module.classifier.register_forward_hook(lambda module, inputs, out: seen.append(inputs[0]))
    with torch.no_grad():
        network.module.eval()(images)
    (features,) = seen
    assert features.shape == (3, 64)  # both directions' final states reach the classifier
    assert torch.allclose(features[:, :32], output[:, -1, :32])  # forward: its state after the last row
    assert torch.allclose(features[:, 32:], output[:, 0, 32:])  # backward: its state after the first row


@pytest.mark.parametrize(("rows", "message"), [
    ([{"name": "filters", "choices": [8]}], "missing \\['dropout_rate', 'kernel_size', 'pool_size'\\]"),
    ([{"name": "filters", "choices": [8]}, {"name": "kernel_size", "choices": [3]},
      {"name": "pool_size", "choices": [1]}, {"name": "dropout_rate", "choices": [0.0]},
      {"name": "stride", "choices": [1]}], "unknown \\['stride'\\]"),
    ([{"name": "filters", "choices": [8, -1]}, {"name": "kernel_size", "choices": [3]},
      {"name": "pool_size", "choices": [1]}, {"name": "dropout_rate", "choices": [0.0]}],
     "decision 'filters': choice -1 is not a positive integer"),
    ([{"name": "filters", "choices": [8]}, {"name": "kernel_size", "choices": [3]},
      {"name": "pool_size", "choices": [1]}, {"name": "dropout_rate", "choices": [1.5]}],
     "decision 'dropout_rate': choice 1.5 is not a probability"),
])
def test_cnn_refuses_spaces_it_cannot_build(rows, message) -> None:
    with pytest.raises(ValueError, match=message):
        CNN.check_space(SearchSpace.from_json({"decisions": rows}))


def test_rnn_refuses_an_unknown_cell() -> None:
    rows = [{"name": "cell_type", "choices": ["lstm", "transformer"]}, {"name": "hidden_units", "choices": [8]},
            {"name": "dropout_rate", "choices": [0.0]}, {"name": "bidirectional", "choices": [False]}]
    with pytest.raises(ValueError, match="choice 'transformer' is not one of \\['gru', 'lstm', 'rnn'\\]"):
        RNN.check_space(SearchSpace.from_json({"decisions": rows}))


# ---- skip connections and variable depth (the shipped example space) ----

SKIP_SPACE = SearchSpace.load(Path(__file__).parents[1] / "docs" / "examples" / "cnn-skips.json")
LAYER = {"filters": 8, "kernel_size": 3, "pool_size": 1, "dropout_rate": 0.0}
SKIP_ARCHITECTURES = {  # inputs per layer; pool sizes make the joined maps differ in size
    "depth 1": ([LAYER], [[0]]),
    "L3 <- L1,L2 across a pooling": ([LAYER, {**LAYER, "pool_size": 2}, {**LAYER, "filters": 16}], [[0], [1], [1, 2]]),
    "two branches into the classifier": ([LAYER, {**LAYER, "pool_size": 2}, {**LAYER, "dropout_rate": 0.25}],
                                         [[0], [1], [1]]),
    "depth 4, every skip": ([{**LAYER, "pool_size": 2}] * 4, [[0], [1], [1, 2], [1, 2, 3]]),
}


@pytest.mark.parametrize("name", sorted(SKIP_ARCHITECTURES))
def test_skip_and_depth_architectures_keep_the_network_contract(name: str, small_fashion: Dataset) -> None:
    layers, inputs = SKIP_ARCHITECTURES[name]
    architecture = SKIP_SPACE.parse({"layers": layers, "inputs": inputs})
    assert SKIP_SPACE.parse(json.loads(json.dumps(architecture.to_json()))) == architecture  # JSON round trip
    assert architecture.describe().endswith(f"classifier <- {','.join(f'L{j}' for j in architecture.outputs)}")
    network = CNN(architecture, small_fashion.input_shape, small_fashion.num_classes, seed=1)
    assert network.validate() == []
    network.build()
    assert network.module is not None
    assert network.module(small_fashion.train.x[:5]).shape == (5, small_fashion.num_classes)
    subset = small_fashion.train.head(256)
    before = network.evaluate(subset).loss
    network.train(subset, epochs=1)
    assert network.evaluate(subset).loss < before


def test_joined_inputs_concatenate_channels_after_pooling_to_the_smallest_map() -> None:
    layers, inputs = SKIP_ARCHITECTURES["L3 <- L1,L2 across a pooling"]
    network = CNN(SKIP_SPACE.parse({"layers": layers, "inputs": inputs}), (1, 28, 28), 10)
    network.build()
    # L1 1->8 (28x28), L2 8->8 then pooled (14x14), L3 reads L1 (pooled to 14x14) and L2: 16 channels in
    conv = (1 * 9 * 8 + 8) + (8 * 9 * 8 + 8) + (16 * 9 * 16 + 16)
    assert network.params == conv + (16 * 14 * 14 * 10 + 10)
    layers, inputs = SKIP_ARCHITECTURES["two branches into the classifier"]
    network = CNN(SKIP_SPACE.parse({"layers": layers, "inputs": inputs}), (1, 28, 28), 10)
    network.build()  # the classifier reads L2 (14x14) and L3 (28x28, pooled to 14x14): 16 channels
    assert network.params == (1 * 9 * 8 + 8) + 2 * (8 * 9 * 8 + 8) + (16 * 14 * 14 * 10 + 10)


def test_a_graph_that_pools_below_one_pixel_is_invalid_not_a_crash() -> None:
    pooled = {**LAYER, "pool_size": 2}
    architecture = SKIP_SPACE.parse({"layers": [pooled] * 4, "inputs": [[0], [1], [2], [3]]})
    assert CNN(architecture, (1, 8, 8), 10).validate() == [
        "layer 4 pools by 2 and shrinks the feature map below 1x1 (input 8x8)"]
    assert CNN(architecture, (1, 16, 16), 10).validate() == []


def test_the_rnn_takes_variable_depth_but_refuses_skip_connections() -> None:
    deep_rnn = SearchSpace(RNN_SPACE.decisions, max_layers=3, min_layers=1, layer_format=RNN_SPACE.layer_format)
    RNN.check_space(deep_rnn)
    for architecture in sampled_from(deep_rnn, 6):
        network = RNN(architecture, (1, 28, 28), 10)
        network.build()
        assert network.module is not None and network.module(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="the RNN network does not build skip connections"):
        RNN.check_space(SearchSpace(RNN_SPACE.decisions, max_layers=2, skip_connections=True))


def sampled_from(space: SearchSpace, count: int) -> list[Architecture]:
    agent = RandomAgent(space)
    return [agent.policy().architecture for _ in range(count)]


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.1])
def test_dropout_zeroes_at_its_rate_and_keeps_the_mean(rate: float) -> None:
    """The children's Dropout (masks from 16-bit lanes of torch's generator) drops each element
    with probability p, to within 1/65536, independently; kept ones are scaled so the mean stays."""
    from nas_pattern.networks.dropout import Dropout

    layer = Dropout(rate)
    x = torch.ones(64, 32, 28, 28).contiguous(memory_format=torch.channels_last)  # as a conv block's output
    torch.manual_seed(0)
    y = layer(x)
    dropped = (y == 0).double()
    exact = round(rate * 65536) / 65536
    assert abs(exact - rate) <= 1 / 65536
    assert abs(dropped.mean().item() - exact) < 5 * (exact * (1 - exact) / x.numel()) ** 0.5  # 5 sigma, 1.6M values
    assert torch.allclose(y[y != 0], torch.full((), 1 / (1 - exact)))
    assert y.is_contiguous(memory_format=torch.channels_last) and y.dtype == x.dtype
    for dim in range(4):  # no pattern along any axis: each slice drops at the rate too
        per_slice = dropped.mean(dim=[d for d in range(4) if d != dim])
        assert (per_slice - exact).abs().max() < 0.03
    assert not torch.equal(y, layer(x))  # a new mask each call
    torch.manual_seed(0)
    assert torch.equal(y, layer(x))  # from torch's generator: the same seed, the same mask


def test_dropout_passes_gradients_through_the_kept_elements_only() -> None:
    from nas_pattern.networks.dropout import Dropout

    layer = Dropout(0.5)
    x = torch.randn(8, 100, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad, (y != 0).float() * 2)
    assert torch.equal(layer.eval()(x), x)  # evaluation: the identity, as nn.Dropout
    strided = torch.ones(64, 64, 64)[:, ::2]  # not dense: a contiguous mask of its shape
    assert abs((layer.train()(strided) == 0).float().mean().item() - 0.5) < 0.01
    assert torch.equal(Dropout(0.0)(x), x) and Dropout(1.0)(x).eq(0).all()


def test_a_channels_last_cnn_gets_its_gradient_back_channels_last_with_the_same_values() -> None:
    """The head flattens in (C, H, W) order; GradInLayout hands the last block its gradient in the
    layout of its maps, so its backward passes need not convert it. The values do not change."""
    architecture = CNN_SPACE.parse({"layers": [
        {"filters": 8, "kernel_size": 3, "pool_size": 1, "dropout_rate": 0.0},
        {"filters": 16, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.0}]})
    images = torch.randn(4, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    gradients = {}
    for in_layout in (True, False):
        network = CNN(architecture, (1, 28, 28), 10, seed=0)
        network.build()
        module = network.module.to(memory_format=torch.channels_last)
        module.grad_in_layout = in_layout
        reached: list[torch.Tensor] = []
        module.blocks[1].register_full_backward_hook(lambda _m, _gin, gout, seen=reached: seen.append(gout[0]))
        module(images).square().sum().backward()
        assert reached[0].is_contiguous(memory_format=torch.channels_last) is in_layout
        gradients[in_layout] = [p.grad for p in module.parameters()]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(gradients[True], gradients[False], strict=True))
