"""Supernet: one set of weights that every child of a search space is a slice of (weight sharing, as
ENAS; Pham et al., 2018).

Weight entanglement: a child's layer is a slice of the largest layer its position can hold. A
convolution takes the first `filters` output channels of the position's widest one, the centre
`k x k` of its largest kernel, and the input channels of the layers it reads; a recurrent layer of
`h` units takes the first `h` units of each gate of its cell type's widest one. The child's own
forward pass (CNN's LayerGraph, RNN's RowReader) runs on those slices through
torch.func.functional_call, so a child sliced out of the supernet is that child exactly: copy its
slices into a stand-alone child and it gives the same logits. Training a child through the
supernet moves only the weights of its slices.
"""

from __future__ import annotations

import abc
import math
from collections import OrderedDict
from typing import ClassVar

import torch
from torch import nn
from torch.func import functional_call

from nas_pattern.networks.base import TorchNetwork
from nas_pattern.networks.cnn import CNN
from nas_pattern.networks.rnn import CELLS, RNN
from nas_pattern.search_space import Architecture, SearchSpace

SKELETONS = 256  # child modules (on the meta device, no memory for weights) kept for reuse, by architecture


class Supernet(nn.Module, abc.ABC):
    """The shared weights of every child in `space`, for children of `network` (CNN or RNN)."""

    network: ClassVar[type[TorchNetwork]]

    def __init__(self, space: SearchSpace, input_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        self.space = space
        self.input_shape = input_shape
        self.num_classes = num_classes
        self._skeletons: OrderedDict[Architecture, nn.Module] = OrderedDict()

    @staticmethod
    def of(network: object, space: SearchSpace, input_shape: tuple[int, int, int], num_classes: int,
           entangled: bool = True) -> Supernet:
        """The supernet for children of `network` in `space`; ValueError, saying why, if there is none.
        `entangled=False` (CNN only): one convolution per filters x kernel candidate instead of
        slices of one, the alternative bench sharing measures weight entanglement against."""
        kinds: dict[type, type[Supernet]] = {CNN: CNNSupernet, RNN: RNNSupernet}
        kind = kinds.get(network) if isinstance(network, type) else None  # a subclass has its own module
        if kind is None:
            name = getattr(network, "__name__", type(network).__name__)
            raise ValueError(f"weight sharing needs a supernet for the child network, and the {name} network has "
                             f"none (the CNN and the RNN have one); search it without --weight-sharing")
        kind.network.check_space(space)
        if not entangled:
            if kind is not CNNSupernet:
                raise ValueError("only the CNN's supernet has a form with one module per candidate")
            return CNNSupernet(space, input_shape, num_classes, entangled=False)
        return kind(space, input_shape, num_classes)

    @abc.abstractmethod
    def child_parameters(self, architecture: Architecture) -> dict[str, torch.Tensor]:
        """The child's parameters, by the names its own module gives them: slices (views or
        concatenations) of the shared weights, through which gradients reach them."""

    def forward(self, images: torch.Tensor, architecture: Architecture) -> torch.Tensor:
        """The logits of `architecture`'s child, computed with the shared weights."""
        skeleton = self.skeleton(architecture)
        skeleton.train(self.training)  # dropout as the supernet is: on while training
        logits: torch.Tensor = functional_call(skeleton, self.child_parameters(architecture), (images,))
        return logits

    def child(self, architecture: Architecture, **kwargs: object) -> TorchNetwork:
        """A stand-alone child of `architecture`, built, its weights copied from the supernet."""
        network = self.network(architecture, self.input_shape, self.num_classes, **kwargs)
        network.build()
        assert network.module is not None
        with torch.no_grad():
            weights = {name: value.detach().clone() for name, value in self.child_parameters(architecture).items()}
            network.module.load_state_dict(weights)
        return network

    def skeleton(self, architecture: Architecture) -> nn.Module:
        """The child's module with no weights of its own (on the meta device), for functional_call."""
        if architecture in self._skeletons:
            self._skeletons.move_to_end(architecture)
            return self._skeletons[architecture]
        with torch.device("meta"):
            module = self.network(architecture, self.input_shape, self.num_classes).make_module()
        self._skeletons[architecture] = module
        if len(self._skeletons) > SKELETONS:
            self._skeletons.popitem(last=False)
        return module


def _largest(space: SearchSpace, name: str) -> int:
    return max(int(v) for d in space.decisions if d.name == name for v in d.choices)


class CNNSupernet(Supernet):
    """Per layer position, the widest convolution with the largest kernel, reading every layer that
    position may read (a block of input channels per layer); per feature-map size the classifier
    can see, one classifier over every layer it may read."""

    network = CNN

    def __init__(self, space: SearchSpace, input_shape: tuple[int, int, int], num_classes: int,
                 entangled: bool = True):
        super().__init__(space, input_shape, num_classes)
        self.entangled = entangled  # False: a convolution of its own per filters x kernel candidate
        self.filters = _largest(space, "filters")
        self.kernel = _largest(space, "kernel_size")
        channels, height, width = input_shape
        self.width = [channels] + [self.filters] * space.max_layers  # of each feature map, 0 = the image
        self.convs = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.offsets: list[dict[int, int]] = []  # per position: input channel offset of each layer it may read
        for i in range(space.max_layers):
            readable = self._readable(i)
            offsets, total = {}, 0
            for j in readable:
                offsets[j], total = total, total + self.width[j]
            self.offsets.append(offsets)
            weight = torch.empty(self.filters, total, self.kernel, self.kernel)
            nn.init.xavier_uniform_(weight)
            self.convs.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(torch.zeros(self.filters)))
        self.candidates = nn.ModuleList()  # per position, when not entangled: {"FxK": weight, "FxK_bias": bias}
        for i in range(space.max_layers if not entangled else 0):
            own = nn.ParameterDict()
            for f in sorted({int(v) for d in space.decisions if d.name == "filters" for v in d.choices}):
                for k in sorted({int(v) for d in space.decisions if d.name == "kernel_size" for v in d.choices}):
                    weight = torch.empty(f, self.convs[i].shape[1], k, k)
                    nn.init.xavier_uniform_(weight)
                    own[f"{f}x{k}"], own[f"{f}x{k}_bias"] = nn.Parameter(weight), nn.Parameter(torch.zeros(f))
            self.candidates.append(own)
        if not entangled:  # the candidates' weights replace the entangled ones
            self.convs, self.biases = nn.ParameterList(), nn.ParameterList()
        self.sizes = sorted(self._sizes(height, width), reverse=True)
        self.heads = nn.ParameterList()
        for h, w in self.sizes:
            weight = torch.empty(num_classes, space.max_layers, self.filters, h, w)
            bound = math.sqrt(6 / (num_classes + space.max_layers * self.filters * h * w))  # Xavier-uniform
            nn.init.uniform_(weight, -bound, bound)
            self.heads.append(nn.Parameter(weight))
        self.head_bias = nn.Parameter(torch.zeros(num_classes))

    def _readable(self, i: int) -> list[int]:
        """The feature maps layer position i may read (0 = the image)."""
        if not self.space.skip_connections:
            return [i]
        return [0] if i == 0 else list(range(1, i + 1))

    def _sizes(self, height: int, width: int) -> set[tuple[int, int]]:
        """Every (height, width) a child's feature maps can have: the image's, pooled by any chain
        of the space's pool sizes."""
        pools = {int(v) for d in self.space.decisions if d.name == "pool_size" for v in d.choices}
        sizes, frontier = {(height, width)}, {(height, width)}
        for _ in range(self.space.max_layers):
            frontier = {(h // p, w // p) for h, w in frontier for p in pools if h // p >= 1 and w // p >= 1}
            sizes |= frontier
        return sizes

    # --8<-- [start:slice]
    def child_parameters(self, architecture: Architecture) -> dict[str, torch.Tensor]:
        params: dict[str, torch.Tensor] = {}
        widths = [self.input_shape[0]]
        for i in range(len(architecture)):
            filters, kernel = int(architecture[i]["filters"]), int(architecture[i]["kernel_size"])
            if self.entangled:
                start = (self.kernel - kernel) // 2  # the centre k x k of the largest kernel
                weight = self.convs[i][:filters, :, start:start + kernel, start:start + kernel]
                bias = self.biases[i][:filters]
            else:
                own: nn.ParameterDict = self.candidates[i]  # type: ignore[assignment]
                weight, bias = own[f"{filters}x{kernel}"], own[f"{filters}x{kernel}_bias"]
            parts = [weight.narrow(1, self.offsets[i][j], widths[j]) for j in architecture.sources(i)]
            params[f"blocks.{i}.0.weight"] = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
            params[f"blocks.{i}.0.bias"] = bias
            widths.append(filters)
        size = CNN(architecture, self.input_shape, self.num_classes)._sizes()
        outputs = architecture.outputs
        h, w = min(size[j][0] for j in outputs), min(size[j][1] for j in outputs)
        head = self.heads[self.sizes.index((h, w))]
        columns = [head[:, j - 1, :widths[j]].reshape(self.num_classes, -1) for j in outputs]
        params["head.1.weight"] = columns[0] if len(columns) == 1 else torch.cat(columns, dim=1)
        params["head.1.bias"] = self.head_bias
        return params
    # --8<-- [end:slice]


GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # gate blocks in a cell's weight rows (PyTorch's layout)


class RNNSupernet(Supernet):
    """Per layer position, per cell type and direction, the widest cell, reading the widest layer
    below it in both directions; one classifier over the widest last layer, both directions."""

    network = RNN

    def __init__(self, space: SearchSpace, input_shape: tuple[int, int, int], num_classes: int):
        super().__init__(space, input_shape, num_classes)
        self.hidden = _largest(space, "hidden_units")
        channels, _, width = input_shape
        self.row_features = channels * width
        self.cells = nn.ModuleList()  # per position: {cell type: nn.ParameterDict of both directions}
        bound = 1 / math.sqrt(self.hidden)  # PyTorch's initialisation of a recurrent cell of that width
        for i in range(space.max_layers):
            features = self.row_features if i == 0 else 2 * self.hidden
            kinds = nn.ModuleDict()
            for cell in CELLS:
                rows = GATES[cell] * self.hidden
                weights = nn.ParameterDict()
                for suffix in ("", "_reverse"):
                    shapes = {f"weight_ih{suffix}": (rows, features), f"weight_hh{suffix}": (rows, self.hidden),
                              f"bias_ih{suffix}": (rows,), f"bias_hh{suffix}": (rows,)}
                    for name, shape in shapes.items():
                        weights[name] = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
                kinds[cell] = weights
            self.cells.append(kinds)
        classifier_bound = 1 / math.sqrt(2 * self.hidden)
        self.classifier_weight = nn.Parameter(torch.empty(num_classes, 2 * self.hidden).uniform_(-classifier_bound,
                                                                                                 classifier_bound))
        self.classifier_bias = nn.Parameter(torch.zeros(num_classes))

    def _units(self, hidden: int, bidirectional: bool) -> list[tuple[int, int]]:
        """(start, length) of a layer's output features in the widest layer's (forward, then backward)."""
        return [(0, hidden), (self.hidden, hidden)] if bidirectional else [(0, hidden)]

    def child_parameters(self, architecture: Architecture) -> dict[str, torch.Tensor]:
        params: dict[str, torch.Tensor] = {}
        below: list[tuple[int, int]] | None = None  # the layer below's output features; None: the image rows
        for i in range(len(architecture)):
            layer = architecture[i]
            cell, hidden, both = str(layer["cell_type"]), int(layer["hidden_units"]), bool(layer["bidirectional"])
            weights: nn.ParameterDict = self.cells[i][cell]  # type: ignore[index]
            rows = torch.cat([torch.arange(g * self.hidden, g * self.hidden + hidden) for g in range(GATES[cell])])
            rows = rows.to(weights["bias_ih"].device)
            for suffix in ("", "_reverse") if both else ("",):
                w_ih = weights[f"weight_ih{suffix}"].index_select(0, rows)
                if below is not None:
                    w_ih = torch.cat([w_ih.narrow(1, start, length) for start, length in below], dim=1)
                params[f"recurrent.{i}.weight_ih_l0{suffix}"] = w_ih
                w_hh = weights[f"weight_hh{suffix}"].index_select(0, rows)
                params[f"recurrent.{i}.weight_hh_l0{suffix}"] = w_hh[:, :hidden]
                params[f"recurrent.{i}.bias_ih_l0{suffix}"] = weights[f"bias_ih{suffix}"].index_select(0, rows)
                params[f"recurrent.{i}.bias_hh_l0{suffix}"] = weights[f"bias_hh{suffix}"].index_select(0, rows)
            below = self._units(hidden, both)
        assert below is not None
        params["classifier.weight"] = torch.cat([self.classifier_weight.narrow(1, s, n) for s, n in below], dim=1)
        params["classifier.bias"] = self.classifier_bias
        return params
