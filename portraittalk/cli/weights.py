"""`portraittalk weights status|download [NAME]|make-tiny DIR`."""
from __future__ import annotations

import argparse

from .common import add_weights_argument, weights_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list or fetch model weights")
    wsub = p.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    s = wsub.add_parser("status", help="which components are present")
    add_weights_argument(s)
    s.set_defaults(run=_status)
    d = wsub.add_parser("download", help="fetch components from their public sources")
    d.add_argument("names", nargs="*", help="components to fetch (default: every one with a public source)")
    d.add_argument("--token", help="Hugging Face token for gated repositories")
    add_weights_argument(d)
    d.set_defaults(run=_download)
    t = wsub.add_parser("make-tiny", help="write a tiny random weight set (tests, CPU demos) in the real layout")
    t.add_argument("dir", help="folder to write sd15/, portraittalk/ and audio2motion/ into")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.set_defaults(run=_make_tiny)


def _status(args: argparse.Namespace) -> int:
    weights = weights_from(args)
    rows = weights.status_rows()
    print(f"weights folder: {weights.root}")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"  {r['name']:<{width}}  {'present' if r['present'] == 'yes' else 'missing':<7}  {r['purpose']}")
        print(f"  {'':<{width}}  {'':<7}  path: {r['path']}")
        print(f"  {'':<{width}}  {'':<7}  from: {r['source']}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..weights import COMPONENTS

    weights = weights_from(args)
    names = args.names or [c.name for c in COMPONENTS if c.source]
    for name in names:
        print(f"downloading {name} ...", flush=True)
        print(f"  -> {weights.download(name, token=args.token)}")
    return 0


def _make_tiny(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..engines.diffusion.tiny import make_tiny_weights

    root = make_tiny_weights(Path(args.dir), seed=args.seed)
    print(f"tiny random weights written to {root} (use --weights {root} or PORTRAITTALK_WEIGHTS={root})")
    return 0
