"""`python -m nas_pattern.bench`: what the engine's hot loops cost, against the plain alternative.

Sections (all by default, or name some):
  trainer     images/s and test accuracy of the plain PyTorch loop a user would write (torchvision's
              FashionMNIST, a DataLoader of 100, fp32) and of our child trainer; the ratio.
  controller  milliseconds per policy() sample and per update_policy(), and their share of a child.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from nas_pattern.agent import AgentConfig, RLAgent
from nas_pattern.data import FASHION_MNIST_DIR, PIXEL_STATS, Split, to_split
from nas_pattern.networks import CNN, RNN, Metrics, TorchNetwork
from nas_pattern.search_space import CNN_SPACE, RNN_SPACE, Architecture
from nas_pattern.trainer import TrainConfig, resolve_device, use_bf16

MEAN, STD = PIXEL_STATS["fashion-mnist"]  # normalised as the engine normalises it
PLAIN_BATCH = 100  # the plain loop's batch size
PLAIN_LR = 1e-3  # and its Adam step size
# The reference architecture of the 2017 blog code, and one RNN child.
REFERENCE_CNN = CNN_SPACE.parse({"layers": [
    {"filters": 32, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0},
    {"filters": 64, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0}]})
REFERENCE_RNN = RNN_SPACE.parse({"layers": [
    {"cell_type": "gru", "hidden_units": 128, "dropout_rate": 0.0, "bidirectional": False}]})


def plain_loop(network: TorchNetwork, root: Path, train_limit: int, epochs: int,
               device: torch.device) -> tuple[float, float]:
    """The honest baseline: torchvision's dataset, a shuffling DataLoader, each batch copied to the
    device, fp32. Returns (training images per second, test accuracy)."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    train = Subset(datasets.FashionMNIST(str(root), train=True, transform=transform), range(train_limit))
    test = datasets.FashionMNIST(str(root), train=False, transform=transform)
    generator = torch.Generator().manual_seed(network.seed)
    model = network.module
    assert model is not None
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=PLAIN_LR)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for images, labels in DataLoader(train, batch_size=PLAIN_BATCH, shuffle=True, generator=generator):
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    _sync(device)
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
    train_limit = min(args.train_limit or len(raw_train), len(raw_train))
    train = to_split(raw_train.data[:train_limit, None].numpy(), raw_train.targets[:train_limit].numpy(),
                     MEAN, STD)
    test = to_split(raw_test.data[:, None].numpy(), raw_test.targets.numpy(), MEAN, STD)
    default = TrainConfig.for_device(device)
    configs = [default, replace(default, batch_size=PLAIN_BATCH)]  # our default, and the plain loop's batch
    print(f"trainer: {train_limit:,} training images, {args.epochs} epoch(s), test on {len(test):,}; plain loop: "
          f"DataLoader of {PLAIN_BATCH}, Adam lr {PLAIN_LR}, fp32; ours: AdamW at {default.learning_rate:g} "
          f"x sqrt(batch / 32), precision {default.precision}, channels_last {default.channels_last}")
    print(f"  {'child':<46} {'batch':>5} {'plain img/s':>11} {'ours img/s':>10} {'ratio':>6} {'plain acc':>9} "
          f"{'ours acc':>8} {'ours':>5}")
    for kind, architecture in (("CNN", REFERENCE_CNN), ("RNN", REFERENCE_RNN)):
        plain_speed, plain_accuracy = plain_loop(_network(kind, architecture, default, device, args.seed),
                                                 root, train_limit, args.epochs, device)
        for config in configs:
            ours = _network(kind, architecture, config, device, args.seed)
            our_speed, metrics = our_trainer(ours, train, test, args.epochs)
            assert ours.module is not None
            mode = "bf16" if use_bf16(ours.module, config, device) else "fp32"
            print(f"  {kind + ' ' + architecture.describe():<46} {config.batch_size:>5} {plain_speed:>11,.0f} "
                  f"{our_speed:>10,.0f} {our_speed / plain_speed:>5.2f}x {plain_accuracy:>9.4f} "
                  f"{metrics.accuracy:>8.4f} {mode:>5}")


def controller_section(args: argparse.Namespace, device: torch.device) -> None:
    m = AgentConfig().children_per_update
    agent = RLAgent(CNN_SPACE, AgentConfig(seed=args.seed))
    policy, update = [], []
    for _ in range(args.updates):
        for _ in range(m):
            start = time.perf_counter()
            agent.policy()
            policy.append(time.perf_counter() - start)
            agent.reward(Metrics(accuracy=0.8, loss=0.5, params=1, train_seconds=1.0))
        start = time.perf_counter()
        agent.update_policy()
        update.append(time.perf_counter() - start)
    per_child = statistics.median(policy) + statistics.median(update) / m
    print(f"controller: LSTM controller on the CPU, CNN space ({CNN_SPACE.size:,} architectures), "
          f"m = {m}, {args.updates} updates")
    print(f"  policy() sample       {statistics.median(policy) * 1e3:8.2f} ms (median)")
    print(f"  update_policy()       {statistics.median(update) * 1e3:8.2f} ms (median)")
    child = _child_seconds(args, device)
    print(f"  per child             {per_child * 1e3:8.2f} ms, against {child:.2f} s to train and validate "
          f"the reference CNN on {args.train_limit or 'all':} images: {per_child / child:.3%} of the search")


SECTIONS: dict[str, Callable[[argparse.Namespace, torch.device], None]] = {
    "trainer": trainer_section,
    "controller": controller_section,
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nas_pattern.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of: {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--data-dir", default=FASHION_MNIST_DIR, help="Fashion-MNIST IDX files (.gz or raw)")
    p.add_argument("--train-limit", type=int, default=None,
                   help="training images (default: 10,000 on CPU, all 60,000 on GPU)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--updates", type=int, default=50, help="policy updates timed by the controller section")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for section in args.sections:
        if section not in SECTIONS:
            p.error(f"unknown section {section!r}; expected any of: {', '.join(SECTIONS)}")
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        p.error(str(err))
    if args.train_limit is None and device.type == "cpu":
        args.train_limit = 10_000
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"nas-pattern bench on {name}, torch {torch.__version__}, seed {args.seed}")
    for section in args.sections or SECTIONS:
        print()
        SECTIONS[section](args, device)
    return 0


def _network(kind: str, architecture: Architecture, config: TrainConfig, device: torch.device,
              seed: int) -> TorchNetwork:
    """The child, built: the same initial weights for the same seed."""
    cls = CNN if kind == "CNN" else RNN
    network = cls(architecture, (1, 28, 28), 10, train_config=config, device=device, seed=seed)
    network.build()
    return network


def _child_seconds(args: argparse.Namespace, device: torch.device) -> float:
    from nas_pattern.data import load_dataset

    data = load_dataset("fashion-mnist", args.data_dir)
    network = _network("CNN", REFERENCE_CNN, TrainConfig.for_device(device), device, args.seed)
    start = time.perf_counter()
    network.train(data.train.head(args.train_limit), 1)
    network.evaluate(data.val)
    return time.perf_counter() - start


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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    sys.exit(main())

