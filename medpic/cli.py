"""``medpic``: the command line. Parses arguments, builds Settings once, calls the package.

Exit codes: 0 when the command ran (per-image errors are rows, not failures), 2 on usage
errors (bad flags, missing inputs), 1 when the command itself could not run (no model), 3 when
the source given to ``scan`` could not be read as a whole (refused, unreachable, not a PDF,
encrypted, damaged): the CSV then holds one row that says why. ``batch`` exits 0 when every
target ended (a failed target is a row, not a failure) and 1 when some did not finish.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

from medpic.version import __version__
from medpic.errors import ExtractionError, FetchError, InvalidInput, MedPicError
from medpic.logs import configure as configure_logging
from medpic.settings import BATCH_DECODE_CHOICES, Settings, parse_probability

__all__ = ["main"]

log = logging.getLogger("medpic")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3


def _probability(text: str) -> float:
    try:
        return parse_probability(text, name="value")
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _backbone(text: str) -> str:
    from medpic.training.backbone import parse_backbone

    try:
        parse_backbone(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _add_training_commands(sub: argparse._SubParsersAction) -> None:
    """``train`` (and its ``--check``) and ``evaluate``: the maintainers' commands, kept together."""
    from medpic.training.recipe import Recipe

    p = sub.add_parser("train", help="train the classifier on the shared dataset and export it")
    p.add_argument("--dataset", type=Path, help="dataset folder with manifest.csv")
    p.add_argument("--out", type=Path, help="model folder to write (default: the bundled models/medpic)")
    p.add_argument("--check", action="store_true",
                   help="only measure the recipe on leave-sources-out folds and write reports/train-check/; "
                        "no model is written")
    default = Recipe()
    p.add_argument("--views", type=_positive, default=default.views,
                   help=f"clean + augmented views per image (default {default.views})")
    p.add_argument("--backbones", nargs="+", type=_backbone, default=default.backbones, metavar="NAME",
                   help=f"EfficientNet-Lite backbones, one medical head each, logits averaged: lite0, lite1, "
                        f"lite2, each optionally @SIZE in pixels (lite2@192); the first one's size is the "
                        f"model's input, the others resize it inside the network "
                        f"(default {' '.join(default.backbones)}: see the model card for why)")
    p.add_argument("--head", choices=("mlp", "linear"), default=default.head,
                   help=f"the medical head (default {default.head})")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("evaluate", help="score the model users get on a labelled folder, write reports/")
    p.add_argument("--dataset", type=Path,
                   help="folder with manifest.csv (file,label[,kind,modality,source]; default: the shared dataset)")
    p.add_argument("--model", type=Path, help="model folder (default: resolved like classify)")
    p.add_argument("--out", type=Path, help="reports folder (default: reports/)")
    p.add_argument("--limit", type=_positive, metavar="N",
                   help="score N rows, stratified by label and source (default: every row)")
    p.add_argument("--seed", type=int, default=0, help="which rows --limit draws (default 0)")


def _add_batch_parser(sub: argparse._SubParsersAction) -> None:
    """``batch``: each flag overrides its MEDPIC_* variable."""
    p = sub.add_parser("batch", help="scan a list of pages, PDFs and images in one resumable job (Ray Data)")
    p.add_argument("input", metavar="INPUT",
                   help="a text file (one target a line, # comments), a CSV or Parquet with a 'target' column, or -")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for results/, targets.parquet, "
                   "summary.json (and images/)")
    p.add_argument("--ray-address", metavar="ADDR", help="join the Ray cluster at host:port (default: a local Ray "
                   "started in this process; also MEDPIC_RAY_ADDRESS)")
    p.add_argument("--extract-workers", type=_positive, metavar="N", help="extraction actors, each with its own "
                   "Chromium (default 2; MEDPIC_BATCH_EXTRACT_WORKERS)")
    p.add_argument("--targets-per-worker", type=_positive, metavar="N", help="targets each extraction actor works "
                   "on at once (default 4; MEDPIC_BATCH_TARGETS_PER_WORKER)")
    p.add_argument("--model-replicas", type=_positive, metavar="N", help="classifier actors, each loading the model "
                   "once (default 1; MEDPIC_BATCH_MODEL_REPLICAS)")
    p.add_argument("--batch-size", type=_positive, metavar="N", help="images per inference batch (MEDPIC_BATCH_SIZE)")
    p.add_argument("--decode", choices=BATCH_DECODE_CHOICES, help="where pictures are decoded: in CPU tasks of "
                   "their own, in the model replicas, or auto: replicas when they hold the cores, else tasks "
                   "(MEDPIC_BATCH_DECODE)")
    p.add_argument("--save-medical", action="store_true",
                   help="save confident medical images under DIR/images/, named by content hash")
    p.add_argument("--min-confidence", type=_probability, default=0.9, metavar="C",
                   help="confidence needed for --save-medical (default 0.9)")
    p.add_argument("--resume", action="store_true",
                   help="finish the job in DIR: skip targets done, run failed and unfinished ones again")
    p.add_argument("--csv", type=Path, metavar="OUT", help="also write every result row to one CSV")
    _add_scan_options(p)


def _add_scan_options(p: argparse.ArgumentParser) -> None:
    """The options ``scan`` and ``batch`` share: they open targets the same way."""
    p.add_argument("--threshold", type=_probability, metavar="T", help="probability above which an image is medical")
    p.add_argument("--allow-private", action="store_true",
                   help="let URLs reach private and loopback addresses (local use and tests only)")
    p.add_argument("--no-browser", action="store_true",
                   help="parse pages' HTML without rendering them (no JavaScript, no lazy images)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medpic", description="Find medical images in files, web pages and PDFs.")
    parser.add_argument("--version", action="version", version=f"medpic {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (model source, timings)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("classify", help="classify image files and folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive), or - for paths on stdin")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write the report as CSV instead of printing a table")
    p.add_argument("--threshold", type=_probability, metavar="T", help="probability above which an image is medical")
    p.add_argument("--batch", type=_positive, metavar="N", help="images per inference batch")

    p = sub.add_parser("scan", help="find and classify every image of a web page or a PDF")
    p.add_argument("target", metavar="TARGET", help="an http(s) URL (a web page or a PDF), or a PDF file")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write the report as CSV instead of printing a table")
    p.add_argument("--save-medical", type=Path, metavar="DIR", help="save confident medical images and a manifest here")
    p.add_argument("--zip", type=Path, metavar="OUT", help="write confident medical images and a manifest to a ZIP")
    p.add_argument("--min-confidence", type=_probability, default=0.9, metavar="C",
                   help="confidence needed for --save-medical/--zip (default 0.9)")
    _add_scan_options(p)

    _add_batch_parser(sub)

    _add_training_commands(sub)

    p = sub.add_parser("publish-model", help="upload a model folder to the Hugging Face Hub (maintainers)")
    p.add_argument("--repo", required=True, help="Hub repo id, e.g. medpic/medpic")
    p.add_argument("--folder", type=Path, help="model folder (default: the bundled one)")
    p.add_argument("--private", action="store_true")
    return parser


def _read_stdin_paths() -> list[str]:
    return [line.strip() for line in sys.stdin if line.strip()]


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from medpic.model.classifier import Classifier
    from medpic.report import CLASSIFY_COLUMNS, format_table, write_csv
    from medpic.scan import JudgeOptions, scan
    from medpic.sources.files import expand_paths, skipped_note
    from medpic.sources.targets import open_image_files
    from medpic.sources.candidates import watch

    paths: list[str] = []
    for p in args.paths:
        paths.extend(_read_stdin_paths() if p == "-" else [p])
    if not paths:
        raise InvalidInput("no paths given (stdin was empty)")
    skipped: list[str] = []
    files = list(expand_paths(paths, skipped=skipped))
    if note := skipped_note(skipped):
        print(f"note: {note}", file=sys.stderr)
    if args.batch:
        settings = settings.with_(batch_size=args.batch)
    classifier = Classifier.load(settings)
    extraction = open_image_files(files, settings=settings)
    bar = tqdm(total=len(files), unit="img", file=sys.stderr, disable=None if len(files) > 20 else True)
    extraction.candidates = watch(extraction.candidates, lambda n: bar.update())
    report = scan(extraction, classifier, JudgeOptions.from_settings(settings, threshold=args.threshold))
    bar.close()
    if args.csv:
        write_csv(report.rows, args.csv, columns=CLASSIFY_COLUMNS)
    else:
        sys.stdout.write(format_table(report.rows, columns=CLASSIFY_COLUMNS))
    print(report.summary().line() + (f"; CSV written to {args.csv}" if args.csv else ""), file=sys.stderr)
    return EXIT_OK


def cmd_scan(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from medpic.model.classifier import Classifier
    from medpic.net.fetch import Fetcher
    from medpic.report import SCAN_COLUMNS, SCAN_TABLE_COLUMNS, format_table, write_csv
    from medpic.save import save_medical, write_zip
    from medpic.scan import JudgeOptions, scan
    from medpic.sources.browser import BrowserService
    from medpic.sources.targets import is_url, open_target

    started = time.monotonic()
    if args.allow_private:
        settings = settings.with_(allow_private=True)
    classifier = Classifier.load(settings)
    bar = tqdm(total=None, file=sys.stderr, disable=None, bar_format="{desc} {elapsed}")
    browser = BrowserService.from_settings(settings) if is_url(args.target) and not args.no_browser else None
    try:
        try:
            extraction = open_target(args.target, settings=settings, fetcher=Fetcher(settings.net_policy()),
                                     browser=browser, on_stage=bar.set_description)
        except (ExtractionError, FetchError) as exc:
            return _unreadable(args, exc)
        bar.set_description("judging the images")
        report = scan(extraction, classifier, JudgeOptions.from_settings(settings, threshold=args.threshold))
    finally:
        bar.close()
        if browser is not None:
            browser.close()
    if args.csv:
        write_csv(report.rows, args.csv, columns=SCAN_COLUMNS)
    else:
        sys.stdout.write(format_table(report.rows, columns=SCAN_TABLE_COLUMNS))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.save_medical:
        saved = save_medical(report.items, args.save_medical, min_confidence=args.min_confidence)
        print(f"saved {len(saved)} medical images (confidence >= {args.min_confidence}) to {args.save_medical}",
              file=sys.stderr)
    if args.zip:
        zipped = write_zip(report.items, args.zip, min_confidence=args.min_confidence)
        print(f"wrote {zipped} medical images (confidence >= {args.min_confidence}) to {args.zip}", file=sys.stderr)
    print(f"{report.source}: {report.summary().line()} in {time.monotonic() - started:.1f} s"
          + (f"; CSV written to {args.csv}" if args.csv else ""), file=sys.stderr)
    return EXIT_OK


def _unreadable(args: argparse.Namespace, exc: MedPicError) -> int:
    """The source as a whole could not be read: the report still exists, with one row saying why."""
    from medpic.report import SCAN_COLUMNS, ReportRow, write_csv

    if args.csv:
        write_csv([ReportRow(source=args.target, image="", status="error", reason=exc.reason)], args.csv,
                  columns=SCAN_COLUMNS)
    print(f"medpic: error: {exc.reason}" + (f"; CSV written to {args.csv}" if args.csv else ""), file=sys.stderr)
    return EXIT_UNREADABLE


def cmd_batch(args: argparse.Namespace, settings: Settings) -> int:
    """``medpic batch``: the flags override the environment's batch settings, then ``medpic.batch.run``."""
    from medpic.batch import read_targets, run

    changes = dict(batch_extract_workers=args.extract_workers, batch_targets_per_worker=args.targets_per_worker,
                   batch_model_replicas=args.model_replicas, batch_decode=args.decode,
                   batch_size=args.batch_size, allow_private=args.allow_private or None)
    settings = settings.with_(**{k: v for k, v in changes.items() if v is not None})
    targets = read_targets(args.input)
    if not targets:
        raise InvalidInput(f"no targets in {args.input!r}")
    summary = run(targets, args.out, settings, args.ray_address, resume=args.resume, save_medical=args.save_medical,
                  min_confidence=args.min_confidence, threshold=args.threshold, use_browser=not args.no_browser,
                  csv=args.csv, progress=True, verbose=args.verbose)
    print(batch_line(summary) + f"; results in {args.out}" + (f", CSV written to {args.csv}" if args.csv else ""),
          file=sys.stderr)
    if summary["unfinished"]:
        print(f"medpic: error: {summary['unfinished']} targets did not finish (a worker crashed on them: Ray's log "
              f"above says why; summary.json lists them); run the same command with --resume", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def batch_line(summary: dict) -> str:
    """``60 targets: 57 done, 3 failed; 842 images: 120 medical, ... in 41.2 s (1.5 targets/s)``."""
    run = summary["this_run"]
    unfinished = f", {summary['unfinished']} unfinished" if summary["unfinished"] else ""
    return (f"{summary['targets']} targets: {summary['done']} done, {summary['failed']} failed{unfinished}; "
            f"{summary['images']} images: {summary['medical']} medical, {summary['skipped']} skipped, "
            f"{summary['errors']} errors; this run: {run['targets']} targets in {run['seconds']:.1f} s "
            f"({run['targets_per_s']:.2f} targets/s)")


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from medpic.training.recipe import Recipe

    settings = settings.with_(dataset_dir=args.dataset or settings.dataset_dir)
    recipe = Recipe(backbones=tuple(args.backbones), views=args.views, head=args.head, seed=args.seed)
    if args.check:
        from medpic.training.check import check_recipe

        if args.out:
            raise InvalidInput("--out names the model folder to write; --check writes no model")
        print(check_recipe(settings, out_dir=settings.reports_dir / "train-check", recipe=recipe).summary())
        return EXIT_OK
    from medpic.training.train import train

    print(train(settings, out_dir=args.out or settings.bundled_model_dir, recipe=recipe).summary())
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from medpic.training.evaluate import evaluate

    if args.model:
        from medpic.model.source import check_folder

        check_folder(args.model)  # a named model is measured or refused, never silently replaced
        settings = settings.with_(model_dir=args.model)
    report = evaluate(settings.with_(dataset_dir=args.dataset or settings.dataset_dir),
                      out_dir=args.out or settings.reports_dir, limit=args.limit, seed=args.seed)
    print(report.summary())
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from medpic.model.source import publish_model

    url = publish_model(args.folder or settings.bundled_model_dir, args.repo, settings=settings, private=args.private)
    print(f"published: {url}")
    return EXIT_OK


COMMANDS = {"classify": cmd_classify, "scan": cmd_scan, "batch": cmd_batch, "train": cmd_train, "evaluate": cmd_evaluate, "publish-model": cmd_publish}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        settings = Settings.from_env()
        return COMMANDS[args.command](args, settings)
    except InvalidInput as exc:
        print(f"medpic: error: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    except MedPicError as exc:
        print(f"medpic: error: {exc.reason}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
