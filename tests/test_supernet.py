"""Supernet: every child of a space is a slice of one set of shared weights, exactly."""

from __future__ import annotations

import pytest
import torch

from nas_pattern import CNN, CNN_SPACE, RNN, SearchSpace
from nas_pattern.networks.supernet import CNNSupernet, RNNSupernet, Supernet
from nas_pattern.networks.tabular import TabularNetwork

SKIPS = SearchSpace.load("docs/examples/cnn-skips.json")
DEEP_RNN = SearchSpace.from_json({"max_layers": 2, "decisions": [
    {"name": "cell_type", "choices": ["rnn", "gru", "lstm"]}, {"name": "hidden_units", "choices": [8, 16]},
    {"name": "dropout_rate", "choices": [0.0, 0.25]}, {"name": "bidirectional", "choices": [False, True]}]})
SPACES = [(CNN, CNN_SPACE), (CNN, SKIPS), (RNN, DEEP_RNN)]


def samples(space: SearchSpace, count: int, seed: int = 0) -> list:
    generator = torch.Generator().manual_seed(seed)
    out = []
    while len(out) < count:
        actions = [int(torch.randint(n, (1,), generator=generator)) for n in space.num_choices]
        architecture = space.decode(actions)
        if not space.validate(architecture):
            out.append(architecture)
    return out


@pytest.mark.parametrize(("network", "space"), SPACES, ids=["cnn", "cnn-skips", "rnn-2-layers"])
def test_a_child_sliced_out_of_the_supernet_is_that_child(network: type, space: SearchSpace) -> None:
    torch.manual_seed(0)
    supernet = Supernet.of(network, space, (1, 28, 28), 10).eval()
    images = torch.randn(5, 1, 28, 28)
    for architecture in samples(space, 12):
        child = supernet.child(architecture)
        assert child.module is not None
        with torch.no_grad():
            assert torch.allclose(supernet(images, architecture), child.module.eval()(images), atol=1e-5), \
                architecture.describe()


def read_by(supernet: Supernet, architecture) -> dict[str, torch.Tensor]:
    """Per shared weight, where `architecture`'s child reads it (True) and where not."""
    for p in supernet.parameters():
        p.grad = None
    sum(t.sum() for t in supernet.child_parameters(architecture).values()).backward()  # type: ignore[union-attr]
    marks = {name: p.grad != 0 if p.grad is not None else torch.zeros_like(p, dtype=torch.bool)
             for name, p in supernet.named_parameters()}
    for p in supernet.parameters():
        p.grad = None
    return marks


def widest(space: SearchSpace, architecture):
    """The architecture with every width at its largest (filters and kernel, or hidden units)."""
    wide = {"filters", "kernel_size", "hidden_units"}
    largest = {d.name: max(d.choices) for d in space.decisions if d.name in wide}  # type: ignore[type-var]
    layers = tuple(tuple((name, largest.get(name, value)) for name, value in layer) for layer in architecture.layers)
    return type(architecture)(layers, architecture.inputs, architecture.layer_format)


@pytest.mark.parametrize(("network", "space"), SPACES, ids=["cnn", "cnn-skips", "rnn-2-layers"])
def test_a_child_is_the_widest_child_with_the_weights_it_does_not_read_set_to_zero(network: type,
                                                                                 space: SearchSpace) -> None:
    """An oracle independent of the slicing code: the child's kernel is the centre of the largest,
    its channels and units the first ones, its inputs the right blocks; so zeroing what it does not
    read leaves the widest child computing the same logits (zero channels and units stay zero)."""
    torch.manual_seed(1)
    images = torch.randn(3, 1, 28, 28)
    for architecture in samples(space, 8, seed=5):
        supernet = Supernet.of(network, space, (1, 28, 28), 10).eval()
        marks = read_by(supernet, architecture)
        with torch.no_grad():
            for name, p in supernet.named_parameters():
                p.mul_(marks[name])
            assert torch.allclose(supernet(images, architecture), supernet(images, widest(space, architecture)),
                                  atol=1e-5), architecture.describe()


@pytest.mark.parametrize(("network", "space"), SPACES, ids=["cnn", "cnn-skips", "rnn-2-layers"])
def test_training_a_child_moves_only_the_weights_of_its_slices(network: type, space: SearchSpace) -> None:
    torch.manual_seed(0)
    supernet = Supernet.of(network, space, (1, 28, 28), 10)
    (architecture,) = samples(space, 1, seed=3)
    before = {name: p.detach().clone() for name, p in supernet.named_parameters()}
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(supernet(torch.randn(4, 1, 28, 28), architecture),
                                             torch.tensor([0, 1, 2, 3]))
    loss.backward()
    # what the child reads: marked by the gradient of a sum over its slices
    marks = {name: torch.zeros_like(p) for name, p in supernet.named_parameters()}
    probe = Supernet.of(network, space, (1, 28, 28), 10)
    probe.load_state_dict(supernet.state_dict())
    sum(t.sum() for t in probe.child_parameters(architecture).values()).backward()  # type: ignore[union-attr]
    for name, p in probe.named_parameters():
        if p.grad is not None:
            marks[name] = p.grad != 0
    optimizer.step()
    moved = 0
    for name, p in supernet.named_parameters():
        changed = p.detach() != before[name]
        assert not (changed & ~marks[name].bool()).any(), f"{name} moved outside the child's slices"
        moved += int(changed.sum())
    assert moved > 0
    assert any(not mark.any() for mark in marks.values())  # whole weights this child never reads: untouched


def test_a_network_without_a_supernet_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"the TabularNetwork network has none .* without --weight-sharing"):
        Supernet.of(TabularNetwork, CNN_SPACE, (1, 28, 28), 10)


def test_the_supernet_holds_the_widest_layers_once() -> None:
    cnn = CNNSupernet(CNN_SPACE, (1, 28, 28), 10)
    assert [tuple(p.shape) for p in cnn.convs] == [(64, 1, 5, 5), (64, 64, 5, 5)]
    assert cnn.sizes == [(28, 28), (14, 14), (7, 7)]
    rnn = RNNSupernet(DEEP_RNN, (1, 28, 28), 10)
    assert tuple(rnn.cells[1]["gru"]["weight_ih"].shape) == (3 * 16, 2 * 16)


def test_one_module_per_candidate_gives_the_child_too_and_trains_only_its_own_candidates() -> None:
    """The alternative bench sharing measures against weight entanglement: a convolution per
    filters x kernel candidate; a child still is its slice, and training it leaves the others."""
    torch.manual_seed(0)
    supernet = Supernet.of(CNN, CNN_SPACE, (1, 28, 28), 10, entangled=False)
    images = torch.randn(5, 1, 28, 28)
    for architecture in samples(CNN_SPACE, 6):
        with torch.no_grad():
            child = supernet.child(architecture).module
            assert child is not None
            assert torch.allclose(supernet.eval()(images, architecture), child.eval()(images), atol=1e-5)
    (architecture,) = samples(CNN_SPACE, 1, seed=3)
    before = {name: p.detach().clone() for name, p in supernet.named_parameters()}
    supernet.train()(images, architecture).sum().backward()
    torch.optim.SGD(supernet.parameters(), lr=0.1).step()
    moved = {name for name, p in supernet.named_parameters() if not torch.equal(p.detach(), before[name])}
    own = {f"candidates.{i}.{architecture[i]['filters']}x{architecture[i]['kernel_size']}" for i in range(2)}
    assert {name.removesuffix("_bias") for name in moved if name.startswith("candidates.")} == own
    with pytest.raises(ValueError, match="only the CNN's supernet"):
        Supernet.of(RNN, DEEP_RNN, (1, 28, 28), 10, entangled=False)
