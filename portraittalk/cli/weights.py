"""`portraittalk weights status|download [NAME]|import KIND PATH|make-tiny DIR`."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_weights_argument, weights_from

IMPORT_KINDS = ("ip-adapter-faceid", "controlnet")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list, fetch or import model weights")
    wsub = p.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    s = wsub.add_parser("status", help="which components are present")
    add_weights_argument(s)
    s.set_defaults(run=_status)
    d = wsub.add_parser("download", help="fetch components from their public sources (public checkpoints are "
                        "then imported into portraittalk/)")  # fmt: skip
    d.add_argument("names", nargs="*", help="components to fetch (default: every one with a public source)")
    d.add_argument("--token", help="Hugging Face token for gated repositories")
    add_weights_argument(d)
    d.set_defaults(run=_download)
    i = wsub.add_parser("import", help="convert a public checkpoint into the portraittalk/ adapters",
                        description="ip-adapter-faceid FILE: an SD1.5 IP-Adapter-FaceID checkpoint (faceid with its "
                        "LoRA, or faceid-portrait; .bin or .safetensors) becomes IdentityNet's face adapter. "
                        "controlnet FOLDER: a diffusers SD1.5 ControlNet folder (CrucibleAI/ControlNetMediaPipeFace's "
                        "diffusion_sd15/) becomes AnimateNet's landmark branch. Needs sd15/; a bad file changes nothing.")  # fmt: skip
    i.add_argument("kind", choices=IMPORT_KINDS, help="what the checkpoint is")
    i.add_argument("path", type=Path, help="the checkpoint file (ip-adapter-faceid) or folder (controlnet)")
    i.add_argument("--conditioning-scale", type=float, default=1.0,
                   help="controlnet: residual scale recorded with the weights (default: 1.0)")  # fmt: skip
    add_weights_argument(i)
    i.set_defaults(run=_import)
    t = wsub.add_parser("make-tiny", help="write a tiny random weight set (tests, CPU demos) in the real layout")
    t.add_argument("dir", help="folder to write sd15/, portraittalk/ and audio2motion/ into")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.set_defaults(run=_make_tiny)


def _status(args: argparse.Namespace) -> int:
    from ..config import FLAT, RuntimeConfig
    from ..engines.registry import ENGINES, choose_engine

    weights = weights_from(args)
    rows = weights.status_rows()
    print(f"weights folder: {weights.root}")
    default = FLAT["engine"].default
    print(f"default engine: {default} (picks {choose_engine(default, weights, RuntimeConfig())[0]} here)")
    width = max(len(e.name) for e in ENGINES)
    for e in ENGINES:  # each engine: what it needs, then whether it is ready (and if not, all it lacks)
        ok, why = e.status(weights)
        print(f"  {e.name:<{width}}  needs {e.needs}: {'ready' if ok else 'not ready'}")
        if not ok:
            print(f"  {'':<{width}}  {why}")
    print("components:")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"  {r['name']:<{width}}  {'present' if r['present'] == 'yes' else 'missing':<7}  {r['purpose']}")
        print(f"  {'':<{width}}  {'':<7}  path: {r['path']}")
        print(f"  {'':<{width}}  {'':<7}  from: {r['source']}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..weights import COMPONENTS, component

    weights = weights_from(args)
    names = args.names or [c.name for c in COMPONENTS if c.source]
    for name in names:
        print(f"downloading {name} ...", flush=True)
        path = weights.download(name, token=args.token)
        print(f"  -> {path}")
        c = component(name)
        if c.import_as:
            _run_import(c.import_as, path / c.import_path, weights, 1.0)
    return 0


def _import(args: argparse.Namespace) -> int:
    _run_import(args.kind, args.path, weights_from(args), args.conditioning_scale)
    return 0


def _run_import(kind: str, path: Path, weights, conditioning_scale: float) -> None:
    from ..engines.diffusion.checkpoints.importer import import_controlnet, import_ip_adapter_faceid

    print(f"importing {path} as {kind} ...", flush=True)
    if kind == "ip-adapter-faceid":
        record = import_ip_adapter_faceid(path, weights)
        lora = f"its rank-{record['lora_rank']} LoRA merged into the UNet when loaded" if record["lora_rank"] else "no LoRA"
        print(f"  -> {weights.path('portraittalk')}: IdentityNet from {record['variant']} ({record['tokens_per_face']} "
              f"tokens per face, {lora}); it needs ArcFace embeddings"
              + ("." if weights.present("insightface") else ": run `portraittalk weights download insightface`."))
    else:
        record = import_controlnet(path, weights, conditioning_scale)
        print(f"  -> {weights.path('portraittalk')}/animatenet: the ControlNet as AnimateNet's landmark branch "
              f"({record['drawing_style']} drawing, conditioning scale {record['conditioning_scale']:g}); its Eq. (2) "
              "attention is untrained, so w1-w3 have no effect until trained weights exist.")


def _make_tiny(args: argparse.Namespace) -> int:
    from ..engines.diffusion.tiny import make_tiny_weights

    root = make_tiny_weights(Path(args.dir), seed=args.seed)
    print(f"tiny random weights written to {root} (use --weights {root} or PORTRAITTALK_WEIGHTS={root})")
    return 0
