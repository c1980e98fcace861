"""The tutorial's lessons: ``scratchnet xor`` (backprop on XOR) and ``scratchnet tutorial``
(its network on raw and on standardised pixels)."""

from __future__ import annotations

import inspect
from pathlib import Path

from scratchnet.app.commands.common import (
    add_data_dir,
    bounded_float,
    bounded_int,
    positive_int,
)

TUTORIAL_SEED = 1  # the tutorial's NNClassifier(random_seed=1)


def register(subparsers) -> None:
    from scratchnet.app.presets import PRESETS
    from scratchnet.app.xor import train_xor

    xor = {k: v.default for k, v in inspect.signature(train_xor).parameters.items()}
    p = subparsers.add_parser("xor", help="the tutorial's backprop demo: a tiny net learns XOR")
    p.add_argument(
        "--hidden",
        type=positive_int,
        default=xor["n_hidden"],
        help="hidden units (2 can get stuck)",
    )
    p.add_argument(
        "--epochs",
        type=bounded_int(1, 1_000_000),
        default=xor["epochs"],
        help="full-batch gradient steps",
    )
    p.add_argument(
        "--learning-rate",
        type=bounded_float(0.0, 1e6),
        default=xor["learning_rate"],
        help="step size",
    )
    p.add_argument("--seed", type=int, default=xor["seed"], help="seed of the initial weights")
    p.set_defaults(func=cmd_xor)

    p = subparsers.add_parser("tutorial", help="the tutorial's experiment: raw vs scaled pixels")
    p.add_argument(
        "--epochs",
        type=bounded_int(1, 100_000),
        default=PRESETS["tutorial"].params["epochs"],
        help="epochs of each fit",
    )
    p.add_argument("--out", default=None, help="directory for the error curves (default: none)")
    p.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="train on the first N training images only (default: all 60,000)",
    )
    p.add_argument("--seed", type=int, default=TUTORIAL_SEED, help="the tutorial's random_seed")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_data_dir(p)
    p.set_defaults(func=cmd_tutorial)


def cmd_xor(args) -> int:
    from scratchnet.app.xor import XOR_X, XOR_Y, train_xor

    result = train_xor(
        n_hidden=args.hidden, epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed
    )
    step = max(1, args.epochs // 10)
    print("epoch  squared error")
    for e in list(range(0, args.epochs, step)) + [args.epochs - 1]:
        print(f"{e + 1:5d}  {result.errors[e]:.6f}")
    print("\ninput   target  output")
    for x, t, p in zip(XOR_X, XOR_Y[:, 0], result.predictions[:, 0], strict=True):
        mark = "ok" if (p > 0.5) == (t > 0.5) else "WRONG"
        print(f"{int(x[0])} {int(x[1])}     {int(t)}       {p:.4f}  {mark}")
    print(f"\n{'all four right' if result.all_correct else 'not all right'}")
    return 0 if result.all_correct else 1


def cmd_tutorial(args) -> int:
    from scratchnet.app.tutorial import TUTORIAL_ACCURACY, run_tutorial

    results = run_tutorial(
        epochs=args.epochs,
        out_dir=args.out,
        limit=args.limit,
        data_dir=args.data_dir,
        seed=args.seed,
        verbose=not args.quiet,
    )
    print(f"{'pixels':<10} {'test acc':>9} {'train acc':>10} {'tutorial':>9} {'seconds':>8}")
    for name, r in results.items():
        print(
            f"{name:<10} {r['test_accuracy']:9.2%} {r['train_accuracy']:10.2%} "
            f"{TUTORIAL_ACCURACY[name]:9.2%} {r['seconds']:8.1f}"
        )
    if args.out:
        print(f"error curves written to {Path(args.out) / 'tutorial_error.png'}")
    return 0
