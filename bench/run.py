"""Run the RAN Screening benchmarks and write bench/RESULTS.md.

    .venv/bin/python bench/run.py [--only NAME,...] [--quick] [--model DIR] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# As the app does (ran_desktop/app.py): idle OpenMP threads sleep, so the decode workers keep their cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.common import Context, Section, machine_description, render  # noqa: E402

BENCHMARKS = {  # name: (module, title), in the order they run and appear
    "model_only": ("bench.model_only", "model forward pass on preprocessed tensors"),
    "end_to_end": ("bench.end_to_end", "end-to-end screening of a folder of full-size JPEGs"),
    "gradcam": ("bench.gradcam_cost", "Heat-map extra cost per image"),
    "gui": ("bench.gui", "window launch time and event-loop pauses"),
    "memory": ("bench.memory", "resident memory over a long batch"),
    "training": ("bench.training_loop", "training loop throughput"),
    "flops": ("bench.flops", "FLOPs per image and share of matmul throughput"),
    "variants": ("bench.variants", "candidate variants and input sizes against the shipped bundle"),
    "local_validation": ("bench.local_validation", "the performance view's figures over reviewed images"),
    "local_finetune": ("bench.local_finetune", "a local fine-tune on 500 reviewed images"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a few images) for a smoke test; numbers are "
                                                          "not meaningful")
    p.add_argument("--model", type=Path, help="bench this model bundle (default: the trained bundle the app ships "
                                               "in models/, else a seeded, untrained full-width ran18 built for "
                                               "the run)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.names = names
    return args


def _shipped_bundle() -> Path | None:
    """The trained bundle the app would load from models/, if there is one."""
    from ran_desktop.engine.model.bundle import find_bundles
    from ran_desktop.paths import models_dir

    trained = [p for p in find_bundles(models_dir()) if json.loads((p / "manifest.json").read_text()).get("trained")]
    return trained[0] if trained else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_description()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="ran-bench-") as tmp:
        scratch = Path(tmp)
        shipped = _shipped_bundle()
        if args.model or shipped:
            model_dir = (args.model or shipped).resolve()
        else:
            from ran_desktop.engine.model.untrained import create_untrained_bundle

            # Built per run, so the numbers do not depend on whatever sits in models/.
            model_dir = scratch / "ran18-bench"
            create_untrained_bundle(model_dir, variant="ran18", seed=0)
        ctx = Context(quick=args.quick, model_dir=model_dir, scratch=scratch)
        sections: list[Section] = []
        for name in args.names:
            module, title = BENCHMARKS[name]
            section = Section(name, title)
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                importlib.import_module(module).run(ctx, section)
            except Exception:  # one broken benchmark must not cost the others' numbers
                failures += 1
                section.notes.append("ERROR, benchmark did not finish:\n\n```\n" + traceback.format_exc() + "```")
                traceback.print_exc()
            section.seconds = time.perf_counter() - t0
            print(f"[bench] {name} done in {section.seconds:.0f} s", file=sys.stderr, flush=True)
            sections.append(section)
        from ran_desktop.engine.model.bundle import read_manifest

        manifest = read_manifest(model_dir)
    header = [
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} by "
        f"`.venv/bin/python bench/run.py{' --quick' if args.quick else ''}"
        f"{' --only ' + ','.join(args.names) if args.only else ''}"
        f"{' --model ' + str(args.model) if args.model else ''}`.",
        f"Model under test: {manifest.title} ({manifest.architecture['variant']}, "
        f"{manifest.architecture.get('kwargs') or 'full width'}, {manifest.input_size} px, trained: {manifest.trained})"
        f"{'' if args.model or shipped else ', seeded and built by the run'}.",
        "Every judged number is a ratio to a baseline measured in the same run; absolute times vary with the machine.",
    ]
    if args.quick:
        header.append("**--quick: tiny sizes for the smoke test; these numbers mean nothing.**")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(sections, machine, header))
    print(f"[bench] wrote {args.out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
