"""bench trainer: images/s and test accuracy of the plain PyTorch loop a user would write
(torchvision's FashionMNIST, a DataLoader of 100, fp32) and of our child trainer; the ratio."""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from nas_pattern.bench.common import (
    MEAN,
    PLAIN_BATCH,
    PLAIN_LR,
    REFERENCE_CNN,
    REFERENCE_RNN,
    STD,
    build_network,
    sync,
    train_images,
)
from nas_pattern.data import Split, load_dataset, to_split
from nas_pattern.networks import CNN_SPACE, Metrics, TorchNetwork
from nas_pattern.networks.cnn import LayerGraph
from nas_pattern.networks.dropout import Dropout
from nas_pattern.precision import cpu_precision, precision_cache_path
from nas_pattern.trainer import TrainConfig, device_name, generator, images_per_pass, use_bf16

# On a CPU, timed comparisons run their variants in turn, this many rounds by default (--rounds), and
# print the median of each: one timing of a whole child moved by up to 15% between identical runs
# on a 2-core machine.
ROUNDS = 3


def plain_loop(network: TorchNetwork, root: Path, train_limit: int, epochs: int, device: torch.device,
               test_limit: int | None = None) -> tuple[float, float]:
    """The honest baseline: torchvision's dataset, a shuffling DataLoader, each batch copied to the
    device, fp32. Returns (training images per second, accuracy on the first `test_limit` (default:
    all) test images)."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    train = Subset(datasets.FashionMNIST(str(root), train=True, transform=transform), range(train_limit))
    all_test = datasets.FashionMNIST(str(root), train=False, transform=transform)
    test = Subset(all_test, range(min(test_limit or len(all_test), len(all_test))))
    order = generator(network.seed)  # of the batches
    model = network.module
    assert model is not None
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=PLAIN_LR)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for images, labels in DataLoader(train, batch_size=PLAIN_BATCH, shuffle=True, generator=order):
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    sync(device)
    seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in DataLoader(test, batch_size=PLAIN_BATCH):
            correct += int((model(images.to(device)).argmax(1) == labels.to(device)).sum())
    return train_limit * epochs / seconds, correct / len(test)


def our_trainer(network: TorchNetwork, train: Split, test: Split, epochs: int) -> tuple[float, Metrics]:
    """The engine's trainer on the same images. Returns (training images per second, test metrics)."""
    network.train(train, epochs)
    metrics = network.evaluate(test)
    return len(train) * epochs / metrics.train_seconds, metrics


def trainer_section(args: argparse.Namespace, device: torch.device) -> None:
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as root:
        _compare_trainers(args, device, _torchvision_layout(Path(args.data_dir), Path(root)))


def _compare_trainers(args: argparse.Namespace, device: torch.device, root: Path) -> None:
    from torchvision import datasets

    raw_train = datasets.FashionMNIST(str(root), train=True)
    raw_test = datasets.FashionMNIST(str(root), train=False)
    train_limit = min(train_images(args, device, 10_000) or len(raw_train), len(raw_train))
    train = to_split(raw_train.data[:train_limit, None].numpy(), raw_train.targets[:train_limit].numpy(),
                     MEAN, STD)
    test_limit = args.test_limit or len(raw_test)
    test = to_split(raw_test.data[:test_limit, None].numpy(), raw_test.targets[:test_limit].numpy(), MEAN, STD)
    configs = trainer_configs(device)
    default = configs[0]  # the device's default
    print(f"trainer: {train_limit:,} training images, {args.epochs} epoch(s), test on {len(test):,}; plain loop: "
          f"DataLoader of {PLAIN_BATCH}, Adam lr {PLAIN_LR}, fp32; ours: AdamW at {default.learning_rate:g} "
          f"x sqrt(batch / 32), precision {default.precision}, channels_last {default.channels_last}"
          + (f"; median of {args.rounds} rounds taking each in turn" if device.type == "cpu" else ""))
    print(f"  {'child':<46} {'batch':>5} {'plain img/s':>11} {'ours img/s':>10} {'ratio':>6} {'plain acc':>9} "
          f"{'ours acc':>8} {'precision':>23}")
    # On a CPU the plain loop and our rows take turns, --rounds rounds (medians); on a GPU, which shares
    # nothing with other processes' threads, one round keeps gpu.sh inside its time box.
    rounds = args.rounds if device.type == "cpu" else 1
    for kind, architecture in (("CNN", REFERENCE_CNN), ("RNN", REFERENCE_RNN)):
        rows = [config for config in configs if not (  # where auto chose fp32, its row is the fp32 row
            config.precision == "fp32" and cpu_precision("conv" if kind == "CNN" else "recurrent") == "fp32")]
        plain_speeds: list[float] = []
        our_speeds: list[list[float]] = [[] for _ in rows]
        plain_accuracies: list[float] = []  # of each round: the first round's accuracies are printed
        accuracies: list[float] = []
        modes: list[str] = []
        for _ in range(rounds):
            plain_speed, accuracy = plain_loop(build_network(kind, architecture, default, device, args.seed),
                                               root, train_limit, args.epochs, device, len(test))
            plain_speeds.append(plain_speed)
            plain_accuracies.append(accuracy)
            for i, config in enumerate(rows):
                ours = build_network(kind, architecture, config, device, args.seed)
                our_speed, metrics = our_trainer(ours, train, test, args.epochs)
                our_speeds[i].append(our_speed)
                assert ours.module is not None
                if len(modes) < len(rows):
                    accuracies.append(metrics.accuracy)
                    modes.append(("bf16" if use_bf16(ours.module, config, device) else "fp32") + (
                        "" if config.precision == "fp32" else " (auto)") + (" determ." if config.deterministic else "")
                        + ("" if device.type != "cuda" else " graphs" if metrics.execution == "cuda graphs"
                           else " eager"))
        plain_speed, plain_accuracy = statistics.median(plain_speeds), plain_accuracies[0]
        for config, speeds, accuracy, mode in zip(rows, our_speeds, accuracies, modes, strict=True):
            our_speed = statistics.median(speeds)
            print(f"  {kind + ' ' + architecture.describe():<46} {config.batch_size:>5} {plain_speed:>11,.0f} "
                  f"{our_speed:>10,.0f} {our_speed / plain_speed:>5.2f}x {plain_accuracy:>9.4f} "
                  f"{accuracy:>8.4f} {mode:>23}")
    if device.type == "cpu":
        print(f"  precision auto on this {device_name(device)}, measured once per machine by "
              f"a probe step: CNN {cpu_precision('conv')}, RNN {cpu_precision('recurrent')} (kept in "
              f"{precision_cache_path()}); the fp32 rows show what it is measured against")
        _compare_layers(train, test, default, device, args.seed, args.rounds)
        _compare_evaluations(test, default, device, args.seed, args.rounds)
    else:
        _new_children(args, default, device)


NEW_CHILD_ROUNDS = 3  # new children of each kind and execution timed on a GPU (the median is printed)


def _new_children(args: argparse.Namespace, default: TrainConfig, device: torch.device) -> None:
    """On a GPU: what a new child of the default search costs, eager and from CUDA graphs: built,
    trained one epoch on the 55,000 training images and validated on the 5,000, in wall seconds."""
    data = load_dataset("fashion-mnist", args.data_dir)
    train, val = data.train.head(args.train_limit), data.val
    print(f"a new child of the default search on {device_name(device)}: built, 1 epoch on {len(train):,} images "
          f"(batch {default.batch_size}), validated on {len(val):,}; wall seconds, median of {NEW_CHILD_ROUNDS} "
          "children taken in turn (each new: its own graphs captured)")
    print(f"  {'child':<46} {'steps':>11} {'build s':>7} {'train s':>7} {'val s':>6} {'child s':>7} "
          f"{'vs eager':>8} {'val acc':>7}")
    configs = (replace(default, cuda_graphs=False), default)
    for kind, architecture in (("CNN", REFERENCE_CNN), ("RNN", REFERENCE_RNN)):
        times: list[list[tuple[float, float, float]]] = [[] for _ in configs]
        results: list[Metrics] = []
        for round_ in range(NEW_CHILD_ROUNDS + 1):  # the first round warms the process up (CUDA, cuDNN)
            for i, config in enumerate(configs):
                sync(device)
                start = time.perf_counter()
                network = build_network(kind, architecture, config, device, args.seed + round_)
                sync(device)
                built = time.perf_counter()
                network.train(train, 1)
                trained = time.perf_counter()
                metrics = network.evaluate(val)
                done = time.perf_counter()
                if round_:
                    times[i].append((built - start, trained - built, done - trained))
                    if len(results) < len(configs):
                        results.append(metrics)
        eager_total = statistics.median(sum(t) for t in times[0])
        for measured, metrics in zip(times, results, strict=True):
            build_s, train_s, val_s = (statistics.median(t[j] for t in measured) for j in range(3))
            total = statistics.median(sum(t) for t in measured)
            print(f"  {kind + ' ' + architecture.describe():<46} {metrics.execution[:11]:>11} {build_s:>7.3f} "
                  f"{train_s:>7.3f} {val_s:>6.3f} {total:>7.3f} {eager_total / total:>7.2f}x {metrics.accuracy:>7.4f}")
            if "failed" in metrics.execution:
                print(f"    {metrics.execution}")


# A child of the default space with dropout after both of its layers, the first at full resolution.
DROPOUT_CNN = CNN_SPACE.parse({"layers": [
    {"filters": 32, "kernel_size": 3, "pool_size": 1, "dropout_rate": 0.25},
    {"filters": 64, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.5}]})


def _compare_layers(train: Split, test: Split, default: TrainConfig, device: torch.device, seed: int,
                    rounds: int) -> None:
    """On a CPU: children trained with torch's layers as they are, then with our dropout, then also
    with the head's gradient back in the maps' layout (the same initial weights and batches)."""
    print(f"child layers on {len(train):,} training images: torch's as they are; with our dropout "
          "(networks/dropout.py: masks from 16-bit lanes of torch's generator); also with the head's gradient "
          f"back channels-last (cnn.GradInLayout); median of {rounds} rounds taking each in turn")
    print(f"  {'child':<46} {'torch img/s':>11} {'dropout img/s':>13} {'layout img/s':>12} {'ratio':>6} "
          f"{'torch acc':>9} {'ours acc':>8}")
    variants = ((False, False), (True, False), (True, True))  # (our dropout, GradInLayout)
    for architecture in (DROPOUT_CNN, REFERENCE_CNN):
        speeds: list[list[float]] = [[] for _ in variants]
        accuracies: list[float] = []  # of the first round (the others train the same children again)
        for _ in range(rounds):
            for i, (dropout, layout) in enumerate(variants):
                network = build_network("CNN", architecture, default, device, seed)
                assert isinstance(network.module, LayerGraph)
                if not dropout:
                    _use_torch_dropout(network.module)
                network.module.grad_in_layout = layout
                speed, metrics = our_trainer(network, train, test, 1)
                speeds[i].append(speed)
                if len(accuracies) < len(variants):
                    accuracies.append(metrics.accuracy)
        torch_speed, dropout_speed, layout_speed = (statistics.median(s) for s in speeds)
        print(f"  {'CNN ' + architecture.describe():<46} {torch_speed:>11,.0f} {dropout_speed:>13,.0f} "
              f"{layout_speed:>12,.0f} {layout_speed / torch_speed:>5.2f}x {accuracies[0]:>9.4f} {accuracies[2]:>8.4f}")


def _use_torch_dropout(module: torch.nn.Module) -> None:
    """Replace every Dropout of ours in `module` with torch's own, at the same rate."""
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, Dropout):
                setattr(parent, name, torch.nn.Dropout(child.p))


# A wide child of the default space: 64 filters at full resolution in both layers.
WIDE_CNN = CNN_SPACE.parse({"layers": [
    {"filters": 64, "kernel_size": 5, "pool_size": 1, "dropout_rate": 0.0},
    {"filters": 64, "kernel_size": 3, "pool_size": 1, "dropout_rate": 0.0}]})


def _compare_evaluations(test: Split, default: TrainConfig, device: torch.device, seed: int, rounds: int) -> None:
    """On a CPU: evaluation in passes of eval_batch_size images against passes sized to keep each
    layer's output under eval_pass_bytes (TrainConfig); the same weights, the same images."""
    fixed = replace(default, eval_pass_bytes=0)
    print(f"evaluation on {len(test):,} test images, untrained weights: passes of {fixed.eval_batch_size} "
          f"images against passes whose layer outputs stay under {default.eval_pass_bytes / 2**20:g} MiB; "
          f"median of {rounds} rounds taking each in turn")
    print(f"  {'child':<46} {'fixed img/s':>11} {'sized img/s':>11} {'images':>6} {'ratio':>6} {'acc diff':>8}")
    for kind, architecture in (("CNN", REFERENCE_CNN), ("CNN", WIDE_CNN), ("RNN", REFERENCE_RNN)):
        network = build_network(kind, architecture, default, device, seed)
        assert network.module is not None
        with torch.inference_mode():
            images = images_per_pass(network.module.eval(), test.x, default, device)
        speeds: list[list[float]] = [[], []]
        accuracies = []
        for config in (fixed, default):  # warm up
            network.train_config = config
            network.evaluate(test.head(min(len(test), 2 * config.eval_batch_size)))
        for _ in range(rounds):
            for i, config in enumerate((fixed, default)):
                network.train_config = config
                start = time.perf_counter()
                accuracies.append(network.evaluate(test).accuracy)
                speeds[i].append(len(test) / (time.perf_counter() - start))
        fixed_speed, sized_speed = (statistics.median(s) for s in speeds)
        print(f"  {kind + ' ' + architecture.describe():<46} {fixed_speed:>11,.0f} {sized_speed:>11,.0f} {images:>6} "
              f"{sized_speed / fixed_speed:>5.2f}x {accuracies[1] - accuracies[0]:>+8.4f}")


def trainer_configs(device: torch.device) -> list[TrainConfig]:
    """Our rows: the device's default batch and the plain loop's, each beside variants: on a CPU in
    fp32 (what "auto" is measured against); on CUDA with --deterministic and eager, without CUDA
    graphs (what each costs or wins)."""
    default = TrainConfig.for_device(device)
    configs = [default, replace(default, batch_size=PLAIN_BATCH)]
    if device.type == "cpu":
        return [c for config in configs for c in (config, replace(config, precision="fp32"))]
    return [c for config in configs
            for c in (config, replace(config, deterministic=True), replace(config, cuda_graphs=False))]


def _torchvision_layout(data_dir: Path, root: Path) -> Path:
    """torchvision's FashionMNIST reads <root>/FashionMNIST/raw/<stem> (uncompressed): lay out the
    local IDX files that way under `root` (it never downloads)."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        source = data_dir / stem
        if source.is_file():
            (raw / stem).symlink_to(source.resolve())
        elif source.with_suffix(".gz").is_file():
            (raw / stem).write_bytes(gzip.decompress(source.with_suffix(".gz").read_bytes()))
        else:
            raise FileNotFoundError(f"{source}.gz not found: install Debian's dataset-fashion-mnist")
    return root
