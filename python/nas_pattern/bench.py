"""`python -m nas_pattern.bench`: what the engine's hot loops cost, against the plain alternative.

Sections (all by default, or name some):
  trainer     images/s and test accuracy of the plain PyTorch loop a user would write (torchvision's
              FashionMNIST, a DataLoader of 100, fp32) and of our child trainer; the ratio.
  controller  milliseconds per policy() sample and per update_policy(), and their share of a child.
  search      children per minute of one fixed search (32 CNN children) with the local executor and
              with Ray running k = 1, 2, 4, 8 children per device at once (per GPU, or sharing the
              CPUs when there is none); the ratios to local.
  strategies  on the measured table --table, every search strategy (REINFORCE with and without
              its baseline, actor-critic, random search, regularized evolution, Optuna's TPE) for
              --seeds seeds at each budget: best accuracy found, regret to the table's optimum, how
              often it found the optimum, reward variance. Prints the comparison and writes
              strategies.csv and strategies.png to --out.
  spaces      (only when named) what skip connections and depth buy: REINFORCE searches of RICHER_CHILDREN
              real children (fast trainer) in the plain 2-layer space, with depth 1-4, and with depth
              and skips (docs/examples/cnn-skips.json), --seeds seeds each (default 3): best
              validation accuracy and its size; then the size-aware reward at two targets.
  tabulate    (only when named) train every architecture of TABLE_SPACE at a fixed budget and write
              the table --table (resumes where an interrupted run stopped).
  tune        (only when named) the REINFORCE agent's hyperparameters, varied one at a time around
              the defaults on the tuning seeds (0 .. --seeds-1); mean regret at budget 100 each.
              The study reports on other seeds (--first-seed, default 100).
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from nas_pattern import study
from nas_pattern.agent import AgentConfig, RLAgent
from nas_pattern.controller import Episode, NASController, SearchConfig
from nas_pattern.data import FASHION_MNIST_DIR, PIXEL_STATS, Split, load_dataset, to_split
from nas_pattern.executor import Executor, LocalExecutor, RayExecutor, init_ray
from nas_pattern.networks import CNN, RNN, Metrics, TorchNetwork
from nas_pattern.networks.tabular import Row, Table
from nas_pattern.search_space import CNN_SPACE, RNN_SPACE, Architecture, Decision, SearchSpace
from nas_pattern.trainer import TrainConfig, on_device, resolve_device, use_bf16

MEAN, STD = PIXEL_STATS["fashion-mnist"]  # normalised as the engine normalises it
PLAIN_BATCH = 100  # the plain loop's batch size
PLAIN_LR = 1e-3  # and its Adam step size
# The reference architecture of the 2017 blog code, and one RNN child.
REFERENCE_CNN = CNN_SPACE.parse({"layers": [
    {"filters": 32, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0},
    {"filters": 64, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0}]})
REFERENCE_RNN = RNN_SPACE.parse({"layers": [
    {"cell_type": "gru", "hidden_units": 128, "dropout_rate": 0.0, "bidirectional": False}]})

# The tabulated space: 2 layers x filters {16, 32, 64} x kernel {3, 5} x pool {1, 2} x dropout
# {0, 0.25} = 24 choices per layer, 576 architectures. Small enough to train every one of them,
# varied enough (42k to 606k parameters) that the choices matter.
TABLE_SPACE = SearchSpace(
    decisions=(
        Decision("filters", (16, 32, 64)),
        Decision("kernel_size", (3, 5)),
        Decision("pool_size", (1, 2)),
        Decision("dropout_rate", (0.0, 0.25)),
    ),
    max_layers=2,
    layer_format=CNN_SPACE.layer_format,
)
TABLE_PATH = "benchmarks/fashion-mnist-cnn576.csv"
TABLE_CPU_TRAIN_LIMIT = 4000  # the table's training images on a CPU (all 55,000 on a GPU)


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
    train_limit = min(_train_limit(args, device, 10_000) or len(raw_train), len(raw_train))
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
    limit = _train_limit(args, device, 10_000)
    child = _child_seconds(args, device, limit)
    print(f"  per child             {per_child * 1e3:8.2f} ms, against {child:.2f} s to train and validate "
          f"the reference CNN on {limit or 'all':} images: {per_child / child:.3%} of the search")


SEARCH_CHILDREN = 32  # the fixed search the search section times
SEARCH_SHARES = (1, 2, 4, 8)  # children per device for the Ray executor
SEARCH_CPU_TRAIN_LIMIT = 2000  # training images per child on a CPU (all on a GPU)


def search_section(args: argparse.Namespace, device: torch.device) -> None:
    """Children per minute of one fixed search, local against Ray with k children per device."""
    limit = _train_limit(args, device, SEARCH_CPU_TRAIN_LIMIT)
    m = max(SEARCH_SHARES)  # children per update: enough to keep every worker of the largest k busy
    data = load_dataset("fashion-mnist", args.data_dir)
    config = SearchConfig(episodes=SEARCH_CHILDREN, epochs=args.epochs, train_limit=limit, stop_entropy=0.0,
                          seed=args.seed)
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    cpus = os.cpu_count() or 1
    print(f"search: {SEARCH_CHILDREN} CNN children of the default space, {args.epochs} epoch(s) on "
          f"{limit or len(data.train):,} images each, m = {m}, the same architectures in every row (seed "
          f"{args.seed}); Ray on this machine ({gpus} GPU(s), {cpus} CPUs); children per minute of the "
          "search, without the start-up")
    print(f"  {'executor':<9} {'k':>2} {'workers':>7} {'start s':>7} {'search s':>8} {'children/min':>12} "
          f"{'vs local':>8} {'best val':>8}")
    init_ray()
    local_rate = 0.0
    runs: list[tuple[str, int, Executor]] = [("local", 1, LocalExecutor())]
    for k in SEARCH_SHARES:
        runs.append(("ray", k, RayExecutor(gpus_per_child=1 / k if gpus else 0.0,
                                           cpus_per_child=1.0 if gpus else cpus / k, max_workers=k * max(gpus, 1))))
    for name, k, executor in runs:
        start = time.perf_counter()
        controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=m, seed=args.seed)), data,
                                   config=config, train_config=TrainConfig.for_device(device), device=device,
                                   executor=executor)
        started = time.perf_counter() - start
        workers = len(executor.actors) if isinstance(executor, RayExecutor) else 1
        try:
            result = controller.search()
        finally:
            executor.close()
        rate = len(result.episodes) / result.seconds * 60
        local_rate = local_rate or rate
        print(f"  {name:<9} {k if name == 'ray' else '':>2} {workers:>7} {started:>7.1f} {result.seconds:>8.1f} "
              f"{rate:>12.1f} {rate / local_rate:>7.2f}x {result.best.accuracy:>8.4f}")


RICHER_SPACE_FILE = "docs/examples/cnn-skips.json"  # depth 1-4 with skip connections
RICHER_CHILDREN = 24  # child evaluations per search
RICHER_SEEDS = 3  # searches per space (--seeds)
RICHER_TARGETS = (5_000, 20_000)  # parameter targets of the size-aware reward
STUDY_SEEDS = 100  # searches per strategy in the strategies and tune sections


def spaces_section(args: argparse.Namespace, device: torch.device) -> None:
    """Best accuracy at a fixed number of real children with and without skips and depth; then
    the size of what the size-aware reward finds for two targets."""
    richer = SearchSpace.load(RICHER_SPACE_FILE)
    plain = replace(richer, min_layers=2, max_layers=2, skip_connections=False)
    depth_only = replace(richer, skip_connections=False)
    limit = _train_limit(args, device, SEARCH_CPU_TRAIN_LIMIT)
    data = load_dataset("fashion-mnist", args.data_dir)
    seeds = range(args.seed, args.seed + (args.seeds or RICHER_SEEDS))
    print(f"spaces: REINFORCE, {RICHER_CHILDREN} children per search, {args.epochs} epoch(s) on "
          f"{limit or len(data.train):,} images each, validation on {len(data.val):,}, seeds "
          f"{seeds.start}..{seeds.stop - 1}; the decisions of {RICHER_SPACE_FILE} in every space")

    def searches(space: SearchSpace, **reward: Any) -> list[Episode]:
        best = []
        for seed in seeds:
            agent = RLAgent(space, AgentConfig(children_per_update=4, seed=seed, **reward))
            config = SearchConfig(episodes=RICHER_CHILDREN, epochs=args.epochs, train_limit=limit,
                                  stop_entropy=0.0, seed=seed)
            best.append(NASController(agent, data, config=config, train_config=TrainConfig.for_device(device),
                                      device=device).search().best)
        return best

    print(f"  {'space':<34} {'architectures':>13} {'best val (mean +- sd)':>21} {'params of best':>15} "
          f"{'depth':>5}  {'skips':>5}")
    rows: list[tuple[str, SearchSpace, dict[str, Any]]] = [
        ("2 layers, no skips", plain, {}), ("depth 1-4, no skips", depth_only, {}),
        ("depth 1-4 with skips", richer, {})]
    rows += [(f"depth 1-4 with skips, target {t:,}", richer, {"reward": "accuracy-size", "target_params": t})
             for t in RICHER_TARGETS]
    for label, space, reward in rows:
        start = time.perf_counter()
        best = searches(space, **reward)
        accuracy = [e.accuracy for e in best]
        params = sorted(e.metrics.params for e in best if e.metrics)
        skips = sum(_skips(e.architecture) for e in best)
        print(f"  {label:<34} {space.size:>13,} {statistics.mean(accuracy):>11.4f} +- "
              f"{statistics.pstdev(accuracy):.4f} {statistics.median(params):>15,.0f} "
              f"{statistics.mean(len(e.architecture) for e in best):>5.1f}  {skips / len(best):>5.1f}"
              f"   ({time.perf_counter() - start:.0f} s; params of each best: {', '.join(f'{p:,}' for p in params)})")


def _skips(architecture: Architecture) -> int:
    """Connections other than layer to next layer: skips between layers, and extra classifier inputs."""
    between = sum(j != i for i in range(len(architecture)) for j in architecture.sources(i))
    return between + len(architecture.outputs) - 1


def tabulate_section(args: argparse.Namespace, device: torch.device) -> None:
    """Train and measure every architecture of TABLE_SPACE once; write the table as it goes."""
    path = Path(args.table)
    data = load_dataset("fashion-mnist", args.data_dir)
    config = TrainConfig.for_device(device)
    train = on_device(data.train.head(_train_limit(args, device, TABLE_CPU_TRAIN_LIMIT)), device, config.channels_last)
    val, test = (on_device(split, device, config.channels_last) for split in (data.val, data.test))
    budget = {"dataset": data.name, "train_images": len(train), "val_images": len(val), "test_images": len(test),
              "epochs": args.epochs, "batch_size": config.batch_size, "learning_rate": config.step_size,
              "precision": config.precision, "trainer": "nas_pattern.trainer (AdamW)"}
    metadata = {"space": TABLE_SPACE.to_json(), "budget": budget, "seed": args.seed, "dataset": data.name,
                "num_classes": data.num_classes, "devices": [], "torch": torch.__version__, "wall_seconds": 0.0}
    rows: dict[Architecture, Row] = {}
    if path.exists():  # resume: the same space, budget and seed, or nothing
        table = Table.load(path, partial=True)
        for key in ("space", "budget", "seed"):
            if table.metadata.get(key) != metadata[key]:
                raise SystemExit(f"bench tabulate: {path} was written with another {key} "
                                 f"({json.dumps(table.metadata.get(key))}); pass another --table or move it away")
        rows, metadata = dict(table.rows), {**table.metadata, "torch": torch.__version__}
    name = _device_name(device)
    metadata["devices"] = sorted({*metadata["devices"], name})
    todo = [a for a in TABLE_SPACE if a not in rows]
    print(f"tabulate: {TABLE_SPACE.size} architectures on {name}, {len(rows)} already in {path}, {len(todo)} to "
          f"train; {len(train):,} training images, {args.epochs} epoch(s), validation {len(val):,}, test {len(test):,}")
    path.parent.mkdir(parents=True, exist_ok=True)
    progress = tqdm(todo, unit="child", dynamic_ncols=True)
    for architecture in progress:
        start = time.perf_counter()
        network = CNN(architecture, data.input_shape, data.num_classes, train_config=config, device=device,
                      seed=args.seed)
        network.build()
        network.train(train, args.epochs)
        val_metrics, test_metrics = network.evaluate(val), network.evaluate(test)
        rows[architecture] = Row(val_accuracy=round(val_metrics.accuracy, 6), val_loss=round(val_metrics.loss, 6),
                                 test_accuracy=round(test_metrics.accuracy, 6),
                                 test_loss=round(test_metrics.loss, 6), params=val_metrics.params,
                                 train_seconds=round(val_metrics.train_seconds, 4))
        metadata["wall_seconds"] = round(metadata["wall_seconds"] + time.perf_counter() - start, 1)
        _write_table(path, metadata, rows)  # after every child: an interruption loses at most one
        best = max(rows.values(), key=lambda row: row.val_accuracy)
        progress.set_postfix_str(f"best val {best.val_accuracy:.4f}")
    progress.close()
    table = Table.load(path)
    architecture, best = table.best
    print(f"  {path}: {len(table.rows)} architectures in {table.metadata['wall_seconds']:.0f} s of training; "
          f"best {architecture.describe()} val {best.val_accuracy:.4f} test {best.test_accuracy:.4f}")


def strategies_section(args: argparse.Namespace, device: torch.device) -> None:
    table = Table.load(args.table)
    args.seeds = args.seeds or STUDY_SEEDS
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    architecture, best = table.best
    print(f"strategies: {len(study.STRATEGIES)} strategies x {args.seeds} seeds (seeds {seeds.start}..{seeds.stop - 1})"
          f" on {args.table} ({table.space.size} architectures; optimum {architecture.describe()}, val "
          f"{best.val_accuracy:.4f}, test {best.test_accuracy:.4f}); budgets {', '.join(map(str, args.budgets))} "
          f"distinct architectures trained; {args.workers} worker process(es)")
    start = time.perf_counter()
    traces = study.run_study(Path(args.table), list(study.STRATEGIES), seeds, max(args.budgets), workers=args.workers)
    summaries = [s for name in study.STRATEGIES for s in study.summarize(table, name, traces[name], args.budgets)]
    print(study.format_table(summaries, best.val_accuracy))
    out = Path(args.out)
    study.write_csv(out / "strategies.csv", summaries)
    study.plot(out / "strategies.png", table, traces, max(args.budgets),
               f"{table.space.size}-architecture Fashion-MNIST table, {args.seeds} seeds per strategy")
    print(f"  wrote {out / 'strategies.csv'} and {out / 'strategies.png'} in {time.perf_counter() - start:.0f} s")


# The one-at-a-time sweep of `tune`: hyperparameter -> values tried around the defaults.
TUNE_GRID: dict[str, tuple[float, ...]] = {
    "learning_rate": (0.003, 0.01, 0.03, 0.1),
    "entropy_weight": (0.0, 1e-3, 1e-2, 3e-2),
    "children_per_update": (1, 2, 4, 8),
    "baseline_decay": (0.5, 0.9, 0.98),
    "temperature": (1.0, 2.0, 5.0),
}
TUNE_BUDGET = 100


def tune_section(args: argparse.Namespace, device: torch.device) -> None:
    """Vary each hyperparameter alone around the defaults, then try the best value of each together."""
    table = Table.load(args.table)
    seeds = range(args.seeds or STUDY_SEEDS)  # the tuning half; the study reports from --first-seed on
    base = AgentConfig()
    results: dict[AgentConfig, study.Summary] = {}

    def regret(config: AgentConfig) -> study.Summary:
        if config not in results:
            traces = study.run_study(Path(args.table), ["reinforce"], seeds, TUNE_BUDGET, {"reinforce": config},
                                     workers=args.workers, progress=lambda _: None)
            (results[config],) = study.summarize(table, "reinforce", traces["reinforce"], [TUNE_BUDGET])
        return results[config]

    def line(label: str, summary: study.Summary, note: str = "") -> None:
        print(f"  {label:<30} regret {summary.regret[0]:.4f} ±{summary.regret[1]:.4f}  found optimum "
              f"{summary.found_optimum:>4.0%}{note}", flush=True)

    print(f"tune: REINFORCE on {args.table}, tuning seeds 0..{args.seeds - 1}, mean regret at budget {TUNE_BUDGET} "
          f"(lower is better); one hyperparameter varied at a time around the defaults")
    best: dict[str, float] = {}
    for name, values in TUNE_GRID.items():
        scores = {}
        for value in values:
            config = replace(base, **{name: type(getattr(base, name))(value)})
            scores[value] = regret(config).regret[0]
            line(f"{name} = {value:g}", results[config], "  (default)" if getattr(base, name) == value else "")
        best[name] = min(scores, key=lambda v: (scores[v], v != getattr(base, name)))  # ties keep the default
    combined = replace(base, **{name: type(getattr(base, name))(value) for name, value in best.items()})
    print(f"  best of each together: {', '.join(f'{n} = {v:g}' for n, v in best.items())}")
    line("defaults", regret(base))
    line("best of each together", regret(combined))


def _write_table(path: Path, metadata: dict, rows: dict[Architecture, Row]) -> None:
    metadata = {**metadata, "complete": len(rows) == TABLE_SPACE.size,
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    Table(TABLE_SPACE, rows, metadata).save(path)


SECTIONS: dict[str, Callable[[argparse.Namespace, torch.device], None]] = {
    "trainer": trainer_section,
    "controller": controller_section,
    "search": search_section,
    "strategies": strategies_section,
    "spaces": spaces_section,
    "tabulate": tabulate_section,
    "tune": tune_section,
}
DEFAULT_SECTIONS = ("trainer", "controller", "search", "strategies")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nas_pattern.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of: {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--data-dir", default=FASHION_MNIST_DIR, help="Fashion-MNIST IDX files (.gz or raw)")
    p.add_argument("--train-limit", type=int, default=None,
                   help=f"training images (default on a CPU: 10,000, {TABLE_CPU_TRAIN_LIMIT:,} for tabulate; "
                        "on a GPU: all)")
    p.add_argument("--table", default=TABLE_PATH, help=f"the table tabulate writes (default: {TABLE_PATH})")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--updates", type=int, default=50, help="policy updates timed by the controller section")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=None, help=f"searches per strategy (strategies, tune; default "
                   f"{STUDY_SEEDS}) or per space (spaces; default {RICHER_SEEDS})")
    p.add_argument("--first-seed", type=int, default=100,
                   help="strategies: the first seed (default 100; seeds below it are tune's)")
    p.add_argument("--budgets", type=_budgets, default=study.BUDGETS,
                   help="strategies: distinct architectures per search, comma-separated (default 25,50,100,200)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="strategies, tune: processes running searches at once (default: one per core)")
    p.add_argument("--out", default="benchmarks", help="strategies: where the CSV and the plot go (default benchmarks)")
    args = p.parse_args(argv)
    for section in args.sections:
        if section not in SECTIONS:
            p.error(f"unknown section {section!r}; expected any of: {', '.join(SECTIONS)}")
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        p.error(str(err))
    for flag in ("train_limit", "seeds", "workers"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    print(f"nas-pattern bench on {_device_name(device)}, torch {torch.__version__}, seed {args.seed}")
    for section in args.sections or DEFAULT_SECTIONS:
        print()
        try:
            SECTIONS[section](args, device)
        except (ValueError, FileNotFoundError) as err:  # a missing or malformed table, data file
            print(f"{p.prog}: error: {err}", file=sys.stderr)
            return 2
    return 0


def _network(kind: str, architecture: Architecture, config: TrainConfig, device: torch.device,
              seed: int) -> TorchNetwork:
    """The child, built: the same initial weights for the same seed."""
    cls = CNN if kind == "CNN" else RNN
    network = cls(architecture, (1, 28, 28), 10, train_config=config, device=device, seed=seed)
    network.build()
    return network


def _budgets(text: str) -> tuple[int, ...]:
    try:
        budgets = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 25,50,100, got {text!r}") from None
    if not budgets or budgets[0] < 1:
        raise argparse.ArgumentTypeError(f"budgets must be >= 1, got {text!r}")
    return budgets


def _train_limit(args: argparse.Namespace, device: torch.device, cpu_default: int) -> int | None:
    """--train-limit, or the section's default: `cpu_default` images on a CPU, all on a GPU."""
    return args.train_limit or (cpu_default if device.type == "cpu" else None)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


def _child_seconds(args: argparse.Namespace, device: torch.device, limit: int | None) -> float:
    data = load_dataset("fashion-mnist", args.data_dir)
    network = _network("CNN", REFERENCE_CNN, TrainConfig.for_device(device), device, args.seed)
    start = time.perf_counter()
    network.train(data.train.head(limit), 1)
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

