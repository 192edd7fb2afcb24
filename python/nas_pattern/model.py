"""The search's product: the best child as a file (best.pt, best.onnx), loaded back ready to use.

best.pt holds the trained weights with everything needed to rebuild and use them: the network
class, the architecture and its space, the input shape, the class count, the normalisation of
the pixels, the training configuration, the metrics, and the versions that wrote it. It is
written atomically, during the search each time the best improves (a killed search keeps it)
and at the end with the model that was tested. training.pt, python -m nas_pattern.train's state
at the end of an epoch, carries the same card. Every .pt file a command reads back (these, and a
run directory's checkpoints) is read weights-only, by load_saved(): it runs no code a file from
elsewhere may carry. One piece: the card, the files' layouts and the model loaded back from them
(and exported to ONNX) change together.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pickle
import re
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas_pattern.data import (
    PIXEL_STATS,
    Dataset,
    Normalisation,
    Split,
    check_raw_pixels,
    class_names,
    from_pixels,
    pixel_statistics,
)
from nas_pattern.files import UNWRITABLE, save_atomically, write_atomically
from nas_pattern.images import ImageFiles, Progress, image_files, read_images
from nas_pattern.networks.base import Metrics, TorchNetwork
from nas_pattern.records import first_line
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import TrainConfig, images_per_pass, reachable_device

MODEL = "best.pt"
ONNX_MODEL = "best.onnx"
ONNX_CHECK_IMAGES = 256  # test images best.onnx is checked on against PyTorch when written
CHECKPOINT = "checkpoint.pt"  # the search's state for --resume (run_dir.py writes it), not a model
TRAINING = "training.pt"  # python -m nas_pattern.train's state after its last epoch, for its --resume
FORMAT = "nas-pattern model"
TRAINING_FORMAT = "nas-pattern training"
FORMAT_VERSION = 1  # raised when the file's layout changes; load_model() reads this version only
ONNX_TOLERANCE = 1e-4  # largest absolute difference of a logit between ONNX Runtime and PyTorch
# best.onnx's input: raw pixel values 0-255 as float32, (N, C, H, W), as the dataset files hold them
# and predict() takes them; the graph scales and normalises them as training did. Its output: "logits".
ONNX_INPUT = "pixels"


@dataclass(frozen=True)
class ModelCard:
    """What best.pt says about its weights, besides the weights themselves."""

    network: str  # "module:qualname" of the TorchNetwork subclass that builds the module
    architecture: dict[str, Any]  # Architecture.to_json()
    space: dict[str, Any]  # SearchSpace.to_json(), which parses the architecture
    input_shape: tuple[int, int, int]  # (channels, height, width) of one image
    num_classes: int
    normalisation: Normalisation
    train_config: dict[str, Any]  # TrainConfig the weights were trained (and are evaluated) with
    dataset: str
    episode: int  # the search's episode of this architecture
    trained: str  # how the weights were trained: "search (1 epoch on 5,000 images)", "final ..."
    val_metrics: dict[str, Any] | None  # on the validation split, as the search recorded them
    test_metrics: dict[str, Any] | None  # on the test split, once tested
    class_names: tuple[str, ...] | None = None  # what each class means, where the dataset's name does not say
    data_dir: str | None = None  # where its dataset's files were when it was trained: predict tests it there

    @property
    def data_here(self) -> str | None:
        """data_dir where its dataset's files still are (predict tests there, train retrains there);
        None where they have moved or it has none (the dataset's default, or --data-dir)."""
        return self.data_dir if self.data_dir and Path(self.data_dir).exists() else None

    @classmethod
    def of(cls, network: type[TorchNetwork], architecture: Architecture, space: SearchSpace, data: Dataset,
           train_config: TrainConfig, *, episode: int, trained: str, val_metrics: Metrics | None,
           test_metrics: Metrics | None) -> ModelCard:
        """The card of a child of class `network` trained on `data` with `train_config`."""
        return cls(network=f"{network.__module__}:{network.__qualname__}", architecture=architecture.to_json(),
                   space=space.to_json(), input_shape=data.input_shape, num_classes=data.num_classes,
                   normalisation=data.normalisation or PIXEL_STATS.get(data.name),
                   train_config=dataclasses.asdict(train_config), dataset=data.name, episode=episode, trained=trained,
                   val_metrics=val_metrics.to_json() if val_metrics else None,
                   test_metrics=test_metrics.to_json() if test_metrics else None,
                   class_names=data.class_names or None, data_dir=data.directory)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelCard:
        """The card as dataclasses.asdict() wrote it (TypeError or KeyError where it is not one)."""
        data = dict(data)
        data["input_shape"] = tuple(data["input_shape"])
        if data["normalisation"] is not None:
            data["normalisation"] = tuple(tuple(part) for part in data["normalisation"])
        if data.get("class_names") is not None:
            data["class_names"] = tuple(data["class_names"])
        return cls(**data)


def save_model(path: Path, card: ModelCard, weights: dict[str, torch.Tensor]) -> Path:
    """Write best.pt at `path` atomically: the old file or the new one, never half of one."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "nas_pattern": _version(),
               "torch": str(torch.__version__), "card": dataclasses.asdict(card),
               "state_dict": {k: v.detach().cpu() for k, v in weights.items()}}
    save_atomically(path, payload)
    return path


class FoundModel:
    """A saved child, rebuilt and ready: `module` in eval mode, `predict(images)` for raw images."""

    def __init__(self, network: TorchNetwork, card: ModelCard, path: Path):
        self.network = network
        self.card = card
        self.path = path
        assert network.module is not None
        self.module = network.module.eval()

    @property
    def architecture(self) -> Architecture:
        return self.network.architecture

    @property
    def class_names(self) -> tuple[str, ...]:
        """What each class means, by class: predict()'s 9 is class_names[9], "Ankle boot" in Fashion-MNIST."""
        return self.card.class_names or class_names(self.card.dataset, self.card.num_classes)

    def evaluate(self, data: Split) -> Metrics:
        """Metrics on an already normalised split, exactly as the search evaluated its children."""
        return self.network.evaluate(data)

    def normalise(self, images: Any) -> torch.Tensor:
        """Raw images (pixel values 0-255 as the dataset files hold them; (N, C, H, W), (N, H, W, C) as numpy
        and PIL hold them, or (N, H, W) of one channel) as the network's input: scaled to [0, 1] and normalised
        as in training. Values outside 0-255, and images scaled to [0, 1] already, are refused."""
        try:
            x = torch.from_numpy(np.array(images, dtype=np.float32))  # a copy: the caller's buffer may be read-only
        except (TypeError, ValueError) as err:
            raise ValueError(f"images must be an array of pixel values 0-255: {err}") from None
        channels, height, width = self.card.input_shape
        given = tuple(x.shape)
        if x.dim() == 3 and channels == 1:
            x = x.unsqueeze(1)  # (N, 1, H, W)
        elif x.dim() == 4 and given[1:] != (channels, height, width) and given[1:] == (height, width, channels):
            x = x.permute(0, 3, 1, 2)  # (N, C, H, W)
        if x.dim() != 4 or tuple(x.shape[1:]) != (channels, height, width):
            last = f"(N, {height}, {width}, {channels})" + (f" or (N, {height}, {width})" if channels == 1 else "")
            raise ValueError(f"images must have the shape (N, {channels}, {height}, {width})"
                             f"{',' if channels == 1 else ' or'} {last}, got {given}")
        check_raw_pixels(x, "images")
        return from_pixels(x, *pixel_statistics(self.card.normalisation))

    def predict(self, images: Any, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """(classes (N,), probabilities (N, classes)) for raw images (see normalise()), in passes of
        at most `batch_size` images (on a CPU, fewer where evaluate() would pass fewer)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return self._classify(self.normalise(images), batch_size)

    def read_images(self, paths: str | Path | Sequence[str | Path], invert: bool = False,
                    progress: Progress | None = None) -> ImageFiles:
        """Image files (PNG, JPEG, any format Pillow reads; a folder: the image files in it, in name
        order) as this model's raw input, made as its dataset's images were: `.pixels` for
        predict(), `.files` and `.notes` (what was done to each: trimmed, scaled, turned upright,
        ...). `invert` negates them first (a dark thing on a light ground, for Fashion-MNIST's and
        MNIST's light on dark). `progress` wraps the iteration over the files (`tqdm`, say: many
        large photos take a while). ValueError in one line, naming the file, for a file that cannot
        be read as an image or a folder with none."""
        named = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        files = image_files([os.fspath(path) for path in named])
        pixels, notes = read_images(files, self.card.input_shape, invert, self.card.dataset, progress)
        return ImageFiles(tuple(files), pixels, tuple(notes))

    def confusion(self, data: Split) -> torch.Tensor:
        """(classes, classes) counts of an already normalised split's images (as evaluate() takes them):
        row: the label, column: the class predict() gives."""
        predicted, _ = self._classify(data.x, 1000)
        n = self.card.num_classes
        return torch.bincount(data.y.cpu() * n + predicted, minlength=n * n).reshape(n, n)

    def _classify(self, x: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """predict() of images normalised already."""
        device = next(self.module.parameters()).device
        config = dataclasses.replace(self.network.train_config, eval_batch_size=batch_size)
        probabilities = []
        with torch.inference_mode():
            step = images_per_pass(self.module, x[:1].to(device), config, device)
            for begin in range(0, len(x), step):
                logits = self.module(x[begin:begin + step].to(device)).float()  # (B, classes)
                probabilities.append(torch.softmax(logits, dim=1).cpu())
        p = torch.cat(probabilities) if probabilities else torch.zeros(0, self.card.num_classes)
        return p.argmax(dim=1), p


def load_model(path: str | Path, device: torch.device | str = "cpu") -> FoundModel:
    """The model in `path` (a run directory, or a best.pt file), rebuilt on `device`.

    FileNotFoundError or ValueError with one line for a file that is missing, truncated, of
    another format version, or whose network class cannot be imported, and for a device that
    torch does not know or cannot reach (checked first: it is not the file's fault).
    """
    device = reachable_device(device)  # first: else a missing GPU is blamed on the file, below
    path = Path(path)
    file = path / MODEL if path.is_dir() else path
    if not file.is_file():
        if (path / TRAINING).is_file():
            where = (f"{path} holds no {MODEL} yet: its training has not finished ({TRAINING}); python -m "
                     f"nas_pattern.train --resume {path} goes on with it")
        elif path.is_dir():
            where = f"{path} holds no {MODEL} (a search writes it once a child has trained)"
        else:
            where = f"model file {file} does not exist"
        raise FileNotFoundError(where)
    if file.suffix == ".onnx":
        raise ValueError(f"{file} is the ONNX export, for ONNX Runtime; nas-pattern loads the {MODEL} beside it "
                         "(or give the run directory)")
    if file.name == CHECKPOINT:
        raise ValueError(f"{file} is the search's checkpoint, for python -m nas_pattern.run --resume; the model "
                         f"is the {MODEL} beside it (or give the run directory)")
    if file.name == TRAINING:
        raise ValueError(f"{file} is an unfinished training's checkpoint, for python -m nas_pattern.train --resume "
                         f"{file.parent}; its {MODEL} is written when the training ends")
    payload = _payload(file, "model file", FORMAT, f"a run directory's model is its {MODEL}")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{file} has model format {payload.get('format_version')} (written by nas-pattern "
                         f"{payload.get('nas_pattern')}); this nas-pattern {_version()} reads format "
                         f"{FORMAT_VERSION}: retrain it with python -m nas_pattern.train")
    try:
        card = ModelCard.from_json(payload["card"])
        cls = network_class(card.network)
        space = SearchSpace.from_json(card.space, source=str(file))
        architecture = space.parse(card.architecture)
        network = cls(architecture, card.input_shape, card.num_classes,
                      train_config=TrainConfig(**card.train_config), device=device, seed=0)
        network.build()
        assert network.module is not None
        network.module.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{file} is damaged: {type(err).__name__}: {first_line(err)}") from None
    return FoundModel(network, card, file)


def _payload(file: Path, kind: str, form: str, hint: str) -> dict[str, Any]:
    """What torch.save wrote in `file`, a dict whose "format" is `form`; ValueError in one line for an
    empty, foreign, truncated or unsafe file (`kind`, "model file", names what it should be)."""
    with open(file, "rb") as f:
        head = f.read(8)
    if not head:
        raise ValueError(f"{file} is empty: not a readable {kind} (truncated, or not written by nas-pattern)")
    if not head.startswith((b"PK", b"\x80")):  # torch.save's zip archive, or its legacy pickle
        raise ValueError(f"{file} is not a {kind}: torch.save writes a zip archive, and this file begins "
                         f"{head!r}; {hint}")
    try:
        payload = load_saved(file)
    except Exception as err:
        raise ValueError(f"{file} is not a readable {kind} (truncated, or not written by nas-pattern): "
                         f"{load_error(err)}") from None
    if not isinstance(payload, dict) or payload.get("format") != form:
        raise ValueError(f"{file} is not a nas-pattern {kind}")
    return payload


def save_training(path: Path, card: ModelCard, job: dict[str, Any], state: dict[str, Any]) -> None:
    """Write a training's checkpoint (TRAINING) atomically: the card of what it trains (no metrics
    yet), `job` (python -m nas_pattern.train's settings) and `state` (trainer.Epoch.state())."""
    save_atomically(path, {"format": TRAINING_FORMAT, "format_version": FORMAT_VERSION, "nas_pattern": _version(),
                           "torch": str(torch.__version__), "card": dataclasses.asdict(card), "job": job,
                           "state": state})  # tensors on a GPU too: torch.load puts them on the CPU


def load_training(path: Path) -> tuple[ModelCard, dict[str, Any], dict[str, Any]]:
    """(card, job, state) of the checkpoint save_training() wrote; ValueError in one line for a
    file that is not one, or is of another version."""
    kind = "training checkpoint"
    payload = _payload(path, kind, TRAINING_FORMAT, f"python -m nas_pattern.train writes its {TRAINING}")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format {payload.get('format_version')} (written by nas-pattern "
                         f"{payload.get('nas_pattern')}); this nas-pattern {_version()} reads format "
                         f"{FORMAT_VERSION}: start the training again")
    try:
        card, job, state = ModelCard.from_json(payload["card"]), dict(payload["job"]), dict(payload["state"])
        missing = {"epochs", "train_limit", "with_validation", "seed", "data_dir", "device"} - set(job)
        missing |= {"epochs", "module", "optimizer", "batches", "rng"} - set(state)
        if missing:
            raise KeyError(", ".join(sorted(missing)))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is damaged: {type(err).__name__}: {first_line(err)}") from None
    return card, job, state


# What a NumPy array is rebuilt from in a pickle: checkpoints before 2026-12-08 held NumPy's random
# state as one (uint32 keys). Rebuilding one runs no code of the file's, so load_saved() allows them.
NUMPY_ARRAY: list[Any] = [np.zeros(0).__reduce__()[0], np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def load_saved(path: Path) -> Any:
    """What save_atomically() wrote in `path`, read weights-only (tensors on the CPU): tensors,
    numbers, strings and containers of them, and NumPy arrays, never the code a pickle may carry,
    so that a file from elsewhere (a run directory, a model) cannot run any. What torch.load raises
    is raised; load_error() says it in one line."""
    allowing = getattr(torch.serialization, "safe_globals", None)  # for this load only: torch 2.5 on
    if allowing is None:
        torch.serialization.add_safe_globals(NUMPY_ARRAY)  # torch 2.4: for the process
        return torch.load(path, map_location="cpu", weights_only=True)
    with allowing(NUMPY_ARRAY):
        return torch.load(path, map_location="cpu", weights_only=True)


def load_error(err: Exception) -> str:
    """What load_saved() raised, in one line. torch's weights-only refusal is a paragraph advising a
    load with weights_only=False, which would run whatever code a foreign file holds: only its reason
    is kept."""
    if isinstance(err, pickle.UnpicklingError):
        reason = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*?)(?:\.(?:\s|$)|\n|$)", str(err))
        why = reason[1] if reason else "no reason given"
        return f"torch.load finds more in it than tensors and plain values ({why})"
    return f"{type(err).__name__}: {first_line(err)}"


class FromPixels(torch.nn.Module):
    """The found network behind the scaling and normalisation its training used, as ONNX exports it:
    best.onnx then takes raw pixels (ONNX_INPUT), as predict() does, and whoever runs it need not
    know the dataset's statistics (fed raw pixels, the bare network would answer, wrongly)."""

    mean: torch.Tensor  # per channel, (1, C, 1, 1), of pixels scaled to [0, 1]
    std: torch.Tensor

    def __init__(self, module: torch.nn.Module, normalisation: Normalisation):
        super().__init__()
        self.module = module
        mean, std = pixel_statistics(normalisation)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.module(from_pixels(pixels, self.mean, self.std))  # as FoundModel.normalise() does


def export_onnx(model: FoundModel, path: Path, check_images: torch.Tensor) -> str:
    """Write `model` behind its input's normalisation (FromPixels) as ONNX (_export: opset 18, a
    dynamic batch; what it is in the file's metadata) and check ONNX Runtime's logits against
    PyTorch's on `check_images` (normalised as in training; given to both as the whole pixel values
    they come from); returns what was checked, in one line (the same for the same check, so the
    records of two runs compare). ValueError, naming the reason, if ONNX is not installed or cannot
    export this network."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise ValueError("onnx and onnxruntime are not installed (pip install 'nas-pattern[onnx]')") from None
    module = FromPixels(model.module.float().cpu().eval(), model.card.normalisation).eval()
    pixels = (check_images.float().cpu() * module.std + module.mean).mul(255).round().clamp(0, 255).contiguous()
    example = pixels[:2]  # two: a batch of one would be specialised
    with tempfile.TemporaryDirectory(prefix="nas-onnx-") as scratch:
        exported = Path(scratch) / ONNX_MODEL
        try:
            with warnings.catch_warnings():  # the exporter's notes on how the module is written
                warnings.simplefilter("ignore")
                _export(module, example, exported)
        except Exception as err:
            raise ValueError(f"torch.onnx cannot export {model.architecture.describe()}: {type(err).__name__}: "
                             f"{first_line(err)}") from None
        data = _described(onnx, exported.read_bytes(), model)
    with torch.inference_mode():
        expected = module(pixels).numpy()
    try:
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        (got,) = session.run(["logits"], {ONNX_INPUT: pixels.numpy()})
    except Exception as err:
        raise ValueError(f"ONNX Runtime cannot run the exported {model.architecture.describe()}: "
                         f"{type(err).__name__}: {first_line(err)}") from None
    difference = float(np.abs(got - expected).max())
    if not difference <= ONNX_TOLERANCE:
        raise ValueError(f"ONNX Runtime's logits differ from PyTorch's by {difference:.2e} (> {ONNX_TOLERANCE:g}); "
                         "not written")
    write_atomically(path, lambda f: f.write(data))
    return f"ONNX Runtime's logits match PyTorch's within {ONNX_TOLERANCE:g} on {len(pixels)} test images"


def _described(onnx: Any, data: bytes, model: FoundModel) -> bytes:
    """The exported model with what it is and takes in its metadata (Netron and
    onnxruntime's get_modelmeta() show it)."""
    proto = onnx.load_from_string(data)
    channels, height, width = model.card.input_shape
    for key, value in {
        "input": f"{ONNX_INPUT}: float32 (N, {channels}, {height}, {width}), raw pixel values 0-255 as the "
                 f"{model.card.dataset} files hold them; the graph scales and normalises them as training did",
        "output": f"logits: (N, {model.card.num_classes}), one per class (argmax: the class; "
                  "nas_pattern.classes names them)",
        "classes": json.dumps(model.class_names),
        "architecture": model.architecture.describe(),
        "trained": model.card.trained,
    }.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"nas_pattern.{key}", value
    return proto.SerializeToString()


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """torch.onnx's TorchScript exporter where this torch still has it, else torch.export's: for
    these children the first takes 0.03 s (the reference CNN; 1.3 s an RNN), the second 1.8 s (8 s),
    and export_onnx checks either against PyTorch. Opset 18, the batch dimension dynamic."""
    try:
        torch.onnx.export(module, (example,), str(path), input_names=[ONNX_INPUT], output_names=["logits"],
                          dynamic_axes={ONNX_INPUT: {0: "batch"}, "logits": {0: "batch"}}, opset_version=18,
                          dynamo=False)
        return
    except Exception:  # a torch without it, or a module it cannot trace: the newer exporter decides
        path.unlink(missing_ok=True)
    torch.onnx.export(module, (example,), str(path), input_names=[ONNX_INPUT], output_names=["logits"],
                      dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=18, dynamo=True,
                      external_data=False, verbose=False)


def write_model_files(directory: Path, card: ModelCard, weights: dict[str, torch.Tensor],
                      test_images: torch.Tensor) -> tuple[Path, bool, str]:
    """best.pt in `directory`, then best.onnx checked against it on the first ONNX_CHECK_IMAGES of
    `test_images` (export_onnx): best.pt's path, whether best.onnx was written, and the check's
    line or why it was not written (a full disk that took best.pt but not best.onnx is one such
    reason: the model itself is whole)."""
    path = save_model(directory / MODEL, card, weights)
    try:
        return path, True, export_onnx(load_model(path), directory / ONNX_MODEL, test_images[:ONNX_CHECK_IMAGES])
    except ValueError as err:
        return path, False, str(err)
    except OSError as err:
        if err.errno not in UNWRITABLE:
            raise
        return path, False, f"the file system refused it ({err.strerror or err})"


def network_class(name: str) -> type[TorchNetwork]:
    """The TorchNetwork subclass a card names ("module:qualname"); ValueError in one line if it is
    not one, or its module is neither nas-pattern's nor imported already: a model file names the
    code that rebuilds it, and what it names is imported only at the user's word (import_modules,
    the commands' --import), so that a file from elsewhere runs no code a module beside it holds."""
    module_name, _, qualname = name.partition(":")
    if module_name.partition(".")[0] != "nas_pattern" and module_name not in sys.modules:
        raise ValueError(f"the model's network class {name} is not imported here, and a model file imports no code "
                         f"it names: import {module_name} first (the commands: --import {module_name})")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"the model's network class {name} cannot be imported here ({first_line(err)}); "
                         "load it where that class is importable") from None
    if not (isinstance(target, type) and issubclass(target, TorchNetwork)):
        raise ValueError(f"the model's network class {name} is not a TorchNetwork")
    return target


# The commands' --import: the module of a network class of one's own, which a model file names
IMPORT_HELP = ("import MODULE first: the module of the model's network class, where it is not nas-pattern's own "
               "(a model file names that class, and imports no code itself); may be given more than once")


def import_modules(names: Sequence[str]) -> None:
    """Import the modules a user names (the commands' --import): those of the network classes of the
    models they load (network_class); ValueError in one line for one that cannot be imported."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:  # ImportError, or whatever its code raised
            raise ValueError(f"--import {name}: {type(err).__name__}: {first_line(err)}") from None


def _version() -> str:
    try:
        return version("nas-pattern")
    except Exception:  # running from a checkout without installing it
        return "unknown"


__all__ = ["IMPORT_HELP", "MODEL", "ONNX_MODEL", "TRAINING", "FoundModel", "ModelCard", "export_onnx", "import_modules",
           "load_model", "load_training", "network_class", "save_model", "save_training", "write_model_files"]

