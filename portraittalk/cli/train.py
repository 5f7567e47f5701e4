"""`portraittalk train --stage identity|animate|joint|audio2motion|mouth|causal-mouth --data DATA --output RUN ...`.

Runs on accelerate: ``accelerate launch [--num_processes N] -m portraittalk train ...`` trains on
several GPUs (or machines) with the same flags.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_weights_argument, weights_from


def register(sub: argparse._SubParsersAction) -> None:
    from ..training.config import PRESETS, STAGES

    p = sub.add_parser("train", help="train one stage (IdentityNet, AnimateNet, jointly, or audio-to-motion)",
                       description="Train one stage of PortraitTalk on preprocessed data. RUN becomes a weights "
                       "folder: `portraittalk generate --weights RUN` uses the result, and the next stage can "
                       "start from --weights RUN.")  # fmt: skip
    p.add_argument("--stage", required=True, choices=STAGES, help="what to train")
    p.add_argument("--data", required=True, type=Path, help="a folder made by `portraittalk preprocess` (--stage "
                   "mouth: a folder of talking-head videos, e.g. benchmarks/data/clips/fit; --stage causal-mouth: "
                   "the motion corpus, benchmarks/data/motion_corpus)")  # fmt: skip
    p.add_argument("--output", required=True, type=Path, help="the run folder to write (RUN)")
    add_weights_argument(p)
    p.add_argument("--config", help=f"a preset ({', '.join(PRESETS)}; default paper) or a .json/.toml file")
    p.add_argument("--max-steps", type=int, help="stop after this many optimiser steps in all (default: the "
                   "configured epochs)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue RUN from its newest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from ..training.config import MOUTH_STAGES, load_config
    from ..training.trainer import train

    config = load_config(args.config)
    result = train(args.stage, args.data, weights_from(args), args.output, config, args.max_steps, args.resume,
                   explicit_config=args.config is not None, progress=not args.quiet)  # fmt: skip
    if result.main_process:
        engine = "--engine diffusion " if args.stage != "audio2motion" else ""
        print(f"trained {args.stage} to step {result.step}/{result.total_steps} (last loss {result.last_loss:.4g}) "
              f"in {result.seconds:.0f} s; weights in {result.run}")
        if args.stage in MOUTH_STAGES:
            from ..motion import causal_mouth, mouth_model

            shipped = (mouth_model if args.stage == "mouth" else causal_mouth).MODEL_FILE
            print(f"ship it: copy {result.run / shipped.name} over portraittalk/motion/{shipped.name}")
        else:
            print(f"use them: portraittalk generate {engine}--weights {result.run} --ref PHOTO --audio SPEECH "
                  "--out OUT.mp4")  # fmt: skip
    return 0
