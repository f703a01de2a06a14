"""Fine-tune the last blocks of EfficientNet-Lite0 and print held-out accuracy per task.

Usage:
    python -m benchmarks.classifier_finetune --data ../shared/data/hm-week \\
        --data ../shared/data/hm-2y [--train-from 17 15 11] [--epochs 6] [--views 3]

`milliner train classifier` keeps the backbone frozen and trains heads on its
pooled features. This script measures what training the last blocks as well
would add, on the same photos and the same split by product code (seed 0, 25%
of the codes held out):

1. The stem and blocks 0 to 10 stay frozen. Their output (112 x 14 x 14) is
   computed once for every held-out photo and for each training photo plus
   `--views` augmented copies of it, and kept in memory as float16.
2. Blocks from `--train-from` to 15 and the last 1x1 convolution train with
   AdamW (one-cycle schedule), together with one linear head per task on the
   pooled 1280 features, with cross-entropy summed over type, colour and
   pattern. Batch normalisation keeps its ImageNet statistics. `--train-from
   17` trains the heads alone, the frozen reference on the same inputs; 16
   adds the last convolution.
3. After every epoch, held-out accuracy is printed: type on every photo,
   colour and pattern on head attire. The last epoch's figures get 95%
   bootstrap intervals over product codes.

The heads are simpler than the published ones (no shared layer, no pixel
colour features, no contrastive loss), so compare rows of this script with
each other, not with `milliner train classifier`.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from classifier.augment import augment
from classifier.backbone import load_backbone
from classifier.images import load_image
from classifier.metrics import accuracy, bootstrap_interval, macro_f1
from classifier.preprocess import Preprocessing
from classifier.samples import LabelledImage, load_catalog_samples, split_by_product
from classifier.taxonomy import LABEL_SETS

_FROZEN_BLOCKS = 11
_TASKS = ("type", "colour", "pattern")
_BATCH = 64


def _encode(
    network: Any, preprocessing: Preprocessing, images: Sequence[Image.Image]
) -> torch.Tensor:
    """Run the frozen stem and first blocks, returning float16 (n, 112, 14, 14)."""
    batch = np.stack([preprocessing.to_array(image) for image in images])
    with torch.no_grad():
        x = preprocessing.normalise(torch.from_numpy(batch))
        x = network._swish(network._bn0(network._conv_stem(x)))
        for block in network._blocks[:_FROZEN_BLOCKS]:
            x = block(x)
    return x.half()


def _encode_all(
    network: Any,
    preprocessing: Preprocessing,
    samples: Sequence[LabelledImage],
    views: int,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode each photo and `views` augmented copies; return inputs and their sample rows."""
    encoded: list[torch.Tensor] = []
    rows: list[int] = []
    pending: list[Image.Image] = []
    for position, sample in enumerate(tqdm(samples, desc="encode", unit="photo")):
        photo = load_image(sample.path)
        pending.append(photo)
        for view in range(views):
            pending.append(augment(photo, random.Random(f"{seed}:{position}:{view}")))
        rows.extend([position] * (views + 1))
        if len(pending) >= _BATCH:
            encoded.append(_encode(network, preprocessing, pending))
            pending = []
    if pending:
        encoded.append(_encode(network, preprocessing, pending))
    return torch.cat(encoded), torch.tensor(rows)


def _labels(samples: Sequence[LabelledImage], task: str) -> torch.Tensor:
    positions = {label.name: i for i, label in enumerate(LABEL_SETS[task].labels)}
    return torch.tensor([positions[sample.label(task)] for sample in samples])


def _labels_by_task(samples: Sequence[LabelledImage]) -> dict[str, torch.Tensor]:
    return {task: _labels(samples, task) for task in _TASKS}


class _FineTuned(nn.Module):
    """Blocks 11 to 15, the last convolution and one linear head per task."""

    def __init__(self, network: Any, train_from: int) -> None:
        super().__init__()
        self.network = network
        self.train_from = train_from
        self.heads = nn.ModuleDict(
            {f"{task}_head": nn.Linear(1280, len(LABEL_SETS[task].labels)) for task in _TASKS}
        )
        self.dropout = nn.Dropout(0.2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        net = self.network
        for position, block in enumerate(net._blocks[_FROZEN_BLOCKS:], start=_FROZEN_BLOCKS):
            with torch.set_grad_enabled(self.training and position >= self.train_from):
                x = block(x)
        with torch.set_grad_enabled(self.training and self.train_from <= 16):
            x = net._swish(net._bn1(net._conv_head(x)))
        pooled = self.dropout(x.mean(dim=(2, 3)))
        return {task: self.heads[f"{task}_head"](pooled) for task in _TASKS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument(
        "--train-from",
        type=int,
        nargs="+",
        default=[17, 15],
        help="first trained block, 11 to 17, one run per value (default: 17 15)",
    )
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--views", type=int, default=3, help="augmented copies per photo")
    parser.add_argument("--backbone-lr", type=float, default=1e-3)
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for train_from in args.train_from:
        if not _FROZEN_BLOCKS <= train_from <= 17:
            parser.error(f"--train-from must be between {_FROZEN_BLOCKS} and 17, got {train_from}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    samples = load_catalog_samples(args.data, other_per_catalog=400, seed=args.seed)
    training, validation = split_by_product(samples, validation_fraction=0.25, seed=args.seed)
    print(f"{len(training)} training and {len(validation)} held-out photos")
    backbone, _ = load_backbone()
    network = backbone.network
    preprocessing = Preprocessing()
    started = time.perf_counter()
    train_inputs, train_rows = _encode_all(network, preprocessing, training, args.views, args.seed)
    validation_inputs, _ = _encode_all(network, preprocessing, validation, 0, args.seed)
    print(
        f"encoded {len(train_inputs) + len(validation_inputs)} inputs in "
        f"{time.perf_counter() - started:.0f} s"
    )

    original = {name: value.clone() for name, value in network.state_dict().items()}
    for train_from in args.train_from:
        network.load_state_dict(original)
        _train_and_report(
            network,
            train_from,
            args,
            (train_inputs, train_rows, _labels_by_task(training)),
            (validation_inputs, validation),
        )


def _train_and_report(
    network: Any,
    train_from: int,
    args: argparse.Namespace,
    training: tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]],
    held_out: tuple[torch.Tensor, Sequence[LabelledImage]],
) -> None:
    """Train from block `train_from` on the encoded inputs and print the held-out figures.

    `training` contains the encoded inputs, the sample row of each input and
    the labels per task. `held_out` contains the encoded held-out photos and
    their samples.
    """
    train_inputs, train_rows, targets = training
    validation_inputs, validation = held_out
    truth = {task: labels.numpy() for task, labels in _labels_by_task(validation).items()}
    head_attire = np.array([sample.type != "none" for sample in validation])
    codes = [sample.product_code for sample in validation]
    model = _FineTuned(network, train_from)
    for parameter in network.parameters():
        parameter.requires_grad = False
    trained = [
        parameter
        for position, block in enumerate(network._blocks)
        if position >= train_from
        for parameter in block.parameters()
    ]
    if train_from <= 16:
        trained += [*network._conv_head.parameters(), *network._bn1.parameters()]
    for parameter in trained:
        parameter.requires_grad = True
    groups = [{"params": list(model.heads.parameters()), "lr": args.head_lr}]
    if trained:
        groups.append({"params": trained, "lr": args.backbone_lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=1e-3)
    steps_per_epoch = -(-len(train_inputs) // _BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser,
        max_lr=[group["lr"] for group in groups],
        total_steps=args.epochs * steps_per_epoch,
        pct_start=0.15,
    )

    started = time.perf_counter()
    predicted: dict[str, np.ndarray] = {}
    for epoch in range(1, args.epochs + 1):
        model.train()
        network.eval()  # batch normalisation keeps its ImageNet statistics
        order = torch.randperm(len(train_inputs))
        for start in range(0, len(order), _BATCH):
            batch = order[start : start + _BATCH]
            outputs = model(train_inputs[batch].float())
            rows = train_rows[batch]
            loss = sum(
                nn.functional.cross_entropy(outputs[task], targets[task][rows]) for task in _TASKS
            )
            optimiser.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            optimiser.step()
            schedule.step()

        model.eval()
        with torch.no_grad():
            outputs = [
                model(validation_inputs[start : start + 128].float())
                for start in range(0, len(validation_inputs), 128)
            ]
        predicted = {
            task: torch.cat([output[task] for output in outputs]).argmax(dim=1).numpy()
            for task in _TASKS
        }
        on_head = {
            task: accuracy(truth[task][head_attire], predicted[task][head_attire])
            for task in ("colour", "pattern")
        }
        print(
            f"epoch {epoch} ({time.perf_counter() - started:.0f} s): "
            f"type {accuracy(truth['type'], predicted['type']):.3f}, "
            f"colour {on_head['colour']:.3f}, pattern {on_head['pattern']:.3f}"
        )

    head_codes = [code for code, kept in zip(codes, head_attire, strict=True) if kept]
    type_count = len(LABEL_SETS["type"].labels)
    figures = {
        "type accuracy": bootstrap_interval(
            accuracy, truth["type"], predicted["type"], groups=codes
        ),
        "type macro-F1": bootstrap_interval(
            lambda t, p: macro_f1(t, p, type_count), truth["type"], predicted["type"], groups=codes
        ),
        "colour accuracy (head attire)": bootstrap_interval(
            accuracy,
            truth["colour"][head_attire],
            predicted["colour"][head_attire],
            groups=head_codes,
        ),
        "pattern accuracy (head attire)": bootstrap_interval(
            accuracy,
            truth["pattern"][head_attire],
            predicted["pattern"][head_attire],
            groups=head_codes,
        ),
    }
    print(f"trained from block {train_from}, {args.epochs} epochs:")
    for name, interval in figures.items():
        print(f"  {name:<31} {interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]")


if __name__ == "__main__":
    main()
