"""bench tabulate: train every architecture of a space (TABLE_SPACE, or --space) once and write the table as it goes."""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from nas_pattern.bench.common import TABLE_CPU_TRAIN_LIMIT, TABLE_SPACE, table_path, train_images
from nas_pattern.data import load_dataset
from nas_pattern.networks import get_network
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.table import Row, Table
from nas_pattern.trainer import TrainConfig, device_name, on_device


def tabulate_section(args: argparse.Namespace, device: torch.device) -> None:
    """Train and measure every architecture of the space once; write the table as it goes."""
    path = Path(table_path(args))
    space = SearchSpace.load(args.space) if args.space else TABLE_SPACE
    network_class = get_network(args.network)
    network_class.check_space(space)  # ValueError: one line, before anything is trained
    data = load_dataset("fashion-mnist", args.data_dir)
    config = TrainConfig.for_device(device)
    train = on_device(data.train.head(train_images(args, device, TABLE_CPU_TRAIN_LIMIT)), device, config.channels_last)
    val, test = (on_device(split, device, config.channels_last)
                 for split in (data.val, data.test.head(args.test_limit)))
    budget = {"dataset": data.name, "train_images": len(train), "val_images": len(val), "test_images": len(test),
              "epochs": args.epochs, "batch_size": config.batch_size, "learning_rate": config.step_size,
              "precision": config.precision, "trainer": "nas_pattern.trainer (AdamW)", "network": args.network}
    metadata = {"space": space.to_json(), "budget": budget, "seed": args.seed, "dataset": data.name,
                "num_classes": data.num_classes, "devices": [], "torch": torch.__version__, "wall_seconds": 0.0}
    rows: dict[Architecture, Row] = {}
    if path.exists():  # resume: the same space, budget and seed, or nothing
        table = Table.load(path, partial=True)
        for key in ("space", "budget", "seed"):
            if table.metadata.get(key) != metadata[key]:
                raise SystemExit(f"bench tabulate: {path} was written with another {key} "
                                 f"({json.dumps(table.metadata.get(key))}); pass another --table or move it away")
        rows, metadata = dict(table.rows), {**table.metadata, "torch": torch.__version__}
    name = device_name(device)
    metadata["devices"] = sorted({*metadata["devices"], name})
    todo = [a for a in space if a not in rows]
    print(f"tabulate: {space.size} {args.network} architectures on {name}, {len(rows)} already in {path}, "
          f"{len(todo)} to "
          f"train; {len(train):,} training images, {args.epochs} epoch(s), validation {len(val):,}, test {len(test):,}")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = len(rows)  # architectures in the table on disk
    progress = tqdm(todo, unit="child", dynamic_ncols=True, disable=None)  # on a terminal only, not in a log
    try:
        for architecture in progress:
            start = time.perf_counter()
            network = network_class(architecture, data.input_shape, data.num_classes, train_config=config,
                                    device=device, seed=args.seed)
            network.build()
            network.train(train, args.epochs)
            val_metrics, test_metrics = network.evaluate(val), network.evaluate(test)
            rows[architecture] = Row(val_accuracy=round(val_metrics.accuracy, 6), val_loss=round(val_metrics.loss, 6),
                                     test_accuracy=round(test_metrics.accuracy, 6),
                                     test_loss=round(test_metrics.loss, 6), params=val_metrics.params,
                                     train_seconds=round(val_metrics.train_seconds, 4))
            metadata["wall_seconds"] = round(metadata["wall_seconds"] + time.perf_counter() - start, 1)
            _write_table(path, space, metadata, rows)  # after every child: an interruption loses at most one
            written = len(rows)
            best = max(rows.values(), key=lambda row: row.val_accuracy)
            progress.set_postfix_str(f"best val {best.val_accuracy:.4f}")
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the table holds every child but the one in training
        raise KeyboardInterrupt(f"{written} of {space.size} architectures are in {path}; the same command goes on "
                                "from there" if written else "no architecture was trained to the end; nothing was "
                                "written") from None
    finally:
        progress.close()
    table = Table.load(path)
    architecture, best = table.best
    print(f"  {path}: {len(table.rows)} architectures in {table.metadata['wall_seconds']:.0f} s of training; "
          f"best {architecture.describe()} val {best.val_accuracy:.4f} test {best.test_accuracy:.4f}")



def _write_table(path: Path, space: SearchSpace, metadata: dict, rows: dict[Architecture, Row]) -> None:
    metadata = {**metadata, "complete": len(rows) == space.size,
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    Table(space, rows, metadata).save(path)
