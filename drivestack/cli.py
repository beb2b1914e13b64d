"""The ``drivestack`` command line: one console script, one sub-command per job.

Usage::

    drivestack drive [--scenario town|highway] [--seed N] [--episodes N] [--out DIR]
    drivestack dataset --out DIR --scenes N --frames-per-scene M --seed S
    drivestack bench sim [--json]
    drivestack --version
    drivestack report RUN                 # RUN/report.html: a drive's or an evaluation's tables and plots

Each sub-command lives in its own module exposing ``add_parser(subparsers)`` and ``run(args)``;
they are imported only when used, so ``drivestack --help`` stays fast. Bad input prints one
line naming the bad value and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from common.errors import ConfigError, UsageError

COMMANDS = {
    "drive": "drivestack.drive",
    "dataset": "drivestack.dataset",
    "bench": "drivestack.bench",
    "snapshot": "drivestack.snapshot",
    "train": "drivestack.train",
    "replay": "drivestack.replay",
    "eval": "drivestack.evaluate",
    "view": "drivestack.view",
    "report": "drivestack.report",
    "policy": "drivestack.policy_file",
}


def version() -> str:
    """The installed package's version (pyproject.toml), from its metadata."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("drivestack")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed; pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drivestack", description="Pixels-to-pedals driving stack: simulate, perceive, drive.")
    parser.add_argument("--version", action="version", version=f"drivestack {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, UsageError, FileExistsError, NotADirectoryError, PermissionError) as exc:
        print(f"drivestack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"drivestack {args.command}: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130


def _resume_hint(args) -> str:
    """What an interrupted evaluation kept: its finished units under --out (``drivestack.cluster.JOURNAL``)."""
    out = getattr(args, "out", None)
    if args.command == "eval" and getattr(args, "target", None) in ("policy", "suite") and out:
        return f"; the finished ones are kept in {out}/.units: run the same command again to drive only the rest"
    return ""


if __name__ == "__main__":
    sys.exit(main())
