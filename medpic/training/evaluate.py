"""``medpic evaluate``: the model users get, measured on a labelled folder.

Every manifest row is scored through the serving path itself (``open_image_files`` -> the judge
-> ``Classifier``: the same file reading, decoding, preprocessing, calibration and threshold as
``medpic classify``), so the figures are what users get, including images that fail to decode
(counted and named, never a crash). Nothing is re-trained here and TensorFlow is never imported:
measuring the training recipe on folds of sources is ``medpic train --check``.

Rows labelled anything but medical / non-medical (``borderline``) are scored too but kept out of
every metric, and reported apart per label.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from medpic.errors import InvalidInput
from medpic.model.classifier import Classifier
from medpic.report import ReportRow
from medpic.settings import Settings
from medpic.training.data import Apart, Example, Manifest, read_manifest, stratified_subset
from medpic.training.metrics import BinaryMetrics, binary_metrics
from medpic.training.reports import (GROUP_COLUMNS, confusion_png, count_table, group_table, modality_confusion_png,
                                     reliability_png, roc_png, write_csv, write_json)

__all__ = ["evaluate", "EvalReport", "ECE_BINS"]

log = logging.getLogger(__name__)

ECE_BINS = 15  # the bins of binary_metrics' ECE, and of the reliability diagram
PREDICTION_COLUMNS = ("file", "label", "kind", "modality", "source", "status", "p_medical", "predicted", "reason",
                      "predicted_modality", "modality_confidence")
SHOWN = 5  # rows of each table, and failed files, named in the printed summary


@dataclass(frozen=True)
class Scored:
    """The selected rows of a manifest, each with its row from the serving path (same order)."""

    manifest: Manifest
    examples: list[Example]
    rows: list[ReportRow]
    apart: list[Apart]
    apart_rows: list[ReportRow]

    @property
    def ok(self) -> np.ndarray:
        """Which examples the model judged (the others failed to decode or were refused)."""
        return np.array([r.status == "ok" for r in self.rows], bool)

    def failed(self) -> list[ReportRow]:
        return [r for r in [*self.rows, *self.apart_rows] if r.status != "ok"]


@dataclass(frozen=True)
class EvalReport:
    """What ``medpic evaluate`` measured and where it wrote it."""

    out_dir: Path
    metrics: BinaryMetrics
    model: dict
    selection: str
    apart_line: str
    apart_scores: list[dict]
    failed: list[ReportRow]
    tables: dict[str, list[dict]]
    modality: dict | None = None  # accuracy and confusion of the modality head, where it could be scored

    def summary(self) -> str:
        """The readable summary the CLI prints: headline figures, rows apart, failures, worst groups."""
        m = self.metrics
        lines = [f"model: {self.model['name']} {self.model['version']} ({self.model['origin']}), "
                 f"threshold {self.model['threshold']:.4f}",
                 self.selection,
                 f"scored {m.n} images: accuracy {m.accuracy:.4f}  precision {m.precision:.4f}  recall {m.recall:.4f}"
                 f"  F1 {m.f1:.4f}  ROC AUC {m.roc_auc:.4f}  ECE {m.ece:.4f} ({ECE_BINS} bins)",
                 f"  {m.tn + m.fp} non-medical: {m.fp} judged medical; {m.tp + m.fn} medical: {m.fn} missed",
                 self.apart_line]
        lines += [f"  {a['label']}: {a['judged_medical']} of {a['scored']} scored judged medical "
                  f"(mean p_medical {a['mean_p_medical']})" for a in self.apart_scores]
        if self.failed:
            named = ", ".join(f"{r.image} ({r.reason})" for r in self.failed[:SHOWN])
            more = f" and {len(self.failed) - SHOWN} more" if len(self.failed) > SHOWN else ""
            n = len(self.failed)
            lines.append(f"{n} row{'' if n == 1 else 's'} could not be scored (errors.csv): {named}{more}")
        if self.modality:
            lines.append(f"modality of medical images judged medical: accuracy {self.modality['accuracy']:.4f} "
                         f"(n={self.modality['n']})")
        lines += _worst_lines(self.tables)
        lines.append(f"reports written to {self.out_dir}/")
        return "\n".join(lines)


def _worst_lines(tables: dict[str, list[dict]]) -> list[str]:
    """The first rows of each table (they are sorted worst first), as the summary names them."""
    def named(rows: list[dict], text: Callable[[dict], str]) -> str:
        return ", ".join(text(r) for r in rows[:SHOWN])

    lines = ["weakest sources (accuracy): "
             + named(tables["per_source"], lambda r: f"{r['source']} {r['accuracy']:.2f} (n={r['n']})")]
    if tables["per_modality"]:
        lines.append("weakest modalities (recall of medical rows): "
                     + named(tables["per_modality"], lambda r: f"{r['modality']} {r['recall']:.2f} (n={r['n']})"))
    alarms = [r for r in tables.get("false_positives_by_kind", []) if r["false_positives"]]
    if alarms:
        lines.append("most false alarms by kind (non-medical judged medical): "
                     + named(alarms, lambda r: f"{r['kind']} {r['false_positives']} of {r['n']}"))
    return lines


def _ref(path: Path, root: Path) -> str:
    """How rows and tables name an image: its ``file`` as the manifest gives it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _select(manifest: Manifest, limit: int | None, seed: int) -> tuple[list[Example], list[Apart], str]:
    """All rows, or ``limit`` of them stratified by label and source; and a line saying which."""
    total = len(manifest.examples) + len(manifest.apart)
    if not limit or limit >= total:
        return manifest.examples, manifest.apart, f"dataset: {manifest.root} ({total} rows, all scored)"
    keys = [(e.label, e.source) for e in manifest.examples] + [(a.label, a.source) for a in manifest.apart]
    chosen = set(stratified_subset(keys, limit, seed=seed).tolist())
    n = len(manifest.examples)
    examples = [e for i, e in enumerate(manifest.examples) if i in chosen]
    apart = [a for i, a in enumerate(manifest.apart) if i + n in chosen]
    return examples, apart, (f"dataset: {manifest.root} ({total} rows; a sample of {limit}, stratified by label "
                             f"and source, seed {seed})")


def _counted(items: Iterable, total: int) -> Iterator:
    """The candidates as the judge pulls them, with a progress bar on a terminal."""
    from tqdm import tqdm

    from medpic.sources.candidates import watch

    with tqdm(total=total, unit="img", file=sys.stderr, disable=None if total > 20 else True) as bar:
        yield from watch(items, lambda n: bar.update())


def _score(paths: list[Path], root: Path, classifier: Classifier, settings: Settings) -> list[ReportRow]:
    """One serving-path row per path, in order (the judge gives every candidate exactly one row).
    The judge is iterated rather than ``scan`` kept whole, so a large folder never holds every
    file's bytes at once."""
    from medpic.scan import JudgeOptions, judge
    from medpic.sources.files import InputFile
    from medpic.sources.targets import open_image_files

    files = [InputFile(str(root), str(p), ref=_ref(p, root)) for p in paths]
    extraction = open_image_files(files, settings=settings)
    options = replace(JudgeOptions.from_settings(settings), min_side=extraction.min_side)
    return [j.row for j in judge(_counted(extraction.candidates, len(files)), classifier, options)]


def _prediction_rows(scored: Scored) -> list[dict]:
    """Every selected row with its verdict (predictions.csv), so any other cut of the figures (by
    dataset version, by origin) can be made later without scoring again."""
    items = [(e.path, "medical" if e.label else "non-medical", e.kind, e.modality, e.source)
             for e in scored.examples] + [(a.path, a.label, a.kind, "", a.source) for a in scored.apart]
    return [{"file": _ref(path, scored.manifest.root), "label": label, "kind": kind, "modality": modality,
             "source": source, "status": r.status, "p_medical": "" if r.p_medical is None else round(r.p_medical, 6),
             "predicted": r.label, "reason": r.reason, "predicted_modality": r.modality,
             "modality_confidence": "" if r.modality_confidence is None else round(r.modality_confidence, 6)}
            for (path, label, kind, modality, source), r in zip(items, scored.rows + scored.apart_rows, strict=True)]


def _apart_scores(scored: Scored) -> list[dict]:
    """Per other label: how many were scored and how many the model calls medical."""
    out = []
    for label, n in scored.manifest.other_labels.most_common():
        rows = [r for a, r in zip(scored.apart, scored.apart_rows) if a.label == label]
        p = [r.p_medical for r in rows if r.status == "ok" and r.p_medical is not None]
        out.append({"label": label, "n": n, "selected": len(rows), "scored": len(p),
                    "judged_medical": sum(r.label == "medical" for r in rows),
                    "mean_p_medical": round(float(np.mean(p)), 4) if p else None})
    return out


def _modality_figures(scored: Scored) -> dict | None:
    """Accuracy and confusion of the modality on medical rows with a known modality that the model
    judged medical (only those get one); ``None`` for a single-head model or a manifest without
    modalities."""
    pairs = [(e.modality, r.modality) for e, r in zip(scored.examples, scored.rows)
             if e.label == 1 and e.modality and r.modality]
    if not pairs:
        return None
    classes = sorted({t for t, _ in pairs} | {g for _, g in pairs})
    confusion = [[sum(1 for t, g in pairs if t == true and g == guess) for guess in classes] for true in classes]
    return {"n": len(pairs), "accuracy": round(sum(t == g for t, g in pairs) / len(pairs), 4), "classes": classes,
            "confusion": confusion}


def _tables(scored: Scored, y: np.ndarray, pred: np.ndarray) -> dict[str, list[dict]]:
    """per_source (all judged rows), per_modality (medical rows: recall) and, when the manifest
    has a ``kind`` column, false_positives_by_kind (non-medical rows judged medical)."""
    judged = [e for e, ok in zip(scored.examples, scored.ok) if ok]
    medical, non_medical = y.astype(bool), ~y.astype(bool)
    tables = {
        "per_source": group_table([e.source for e in judged], y, pred, key="source"),
        "per_modality": count_table([e.modality for e, m in zip(judged, medical) if m], pred[medical],
                                    key="modality", hit="detected", rate="recall", most_first=False),
    }
    if "kind" in scored.manifest.columns:
        tables["false_positives_by_kind"] = count_table(
            [e.kind for e, m in zip(judged, non_medical) if m], pred[non_medical], key="kind",
            hit="false_positives", rate="false_positive_rate", most_first=True)
    return tables


def _write(out: Path, scored: Scored, report: EvalReport, p: np.ndarray, y: np.ndarray) -> None:
    """metrics.json, the tables, predictions.csv, errors.csv and the figures."""
    m, failed = report.metrics, report.failed
    title = f"{report.model['name']} on {scored.manifest.root.name}"
    counts = {"manifest_rows": len(scored.manifest.examples) + len(scored.manifest.apart),
              "labelled": len(scored.manifest.examples), "selected": len(scored.examples), "scored": m.n,
              "medical": m.tp + m.fn, "non_medical": m.tn + m.fp, "errors": len(failed),
              "other_labels": dict(scored.manifest.other_labels.most_common())}
    metrics = {"model": report.model, "dataset": str(scored.manifest.root), "threshold": report.model["threshold"],
               "temperature": report.model["temperature"], "ece_bins": ECE_BINS,
               **m.as_dict(), "counts": counts,
               "other_labels": report.apart_scores,
               "errors": [{"file": r.image, "status": r.status, "reason": r.reason} for r in failed]}
    if report.modality:
        metrics["modality"] = report.modality
        modality_confusion_png(out / "confusion_modality.png", report.modality["classes"], report.modality["confusion"],
                               f"{title}: modality of medical images judged medical")
    write_json(out / "metrics.json", metrics)
    write_csv(out / "per_source.csv", report.tables["per_source"], ("source", *GROUP_COLUMNS))
    write_csv(out / "per_modality.csv", report.tables["per_modality"], ("modality", "n", "detected", "recall"))
    if "false_positives_by_kind" in report.tables:
        write_csv(out / "false_positives_by_kind.csv", report.tables["false_positives_by_kind"],
                  ("kind", "n", "false_positives", "false_positive_rate"))
    write_csv(out / "predictions.csv", _prediction_rows(scored), PREDICTION_COLUMNS)
    write_csv(out / "errors.csv", metrics["errors"], ("file", "status", "reason"))
    reliability_png(out / "reliability.png", p, y, m, title, bins=ECE_BINS)
    confusion_png(out / "confusion.png", m, title)
    roc_png(out / "roc.png", p, y, m, title)


def evaluate(settings: Settings, *, out_dir: Path, limit: int | None = None, seed: int = 0) -> EvalReport:
    """Score the resolved model on ``settings.dataset_dir`` and write metrics, tables and figures."""
    manifest = read_manifest(settings.dataset_dir)
    if not manifest.examples:
        raise InvalidInput(f"{manifest.root}/manifest.csv has no row labelled medical or non-medical")
    examples, apart, selection = _select(manifest, limit, seed)
    classifier = Classifier.load(settings)
    log.info("evaluate: %d labelled rows and %d kept apart through the serving path", len(examples), len(apart))
    rows = _score([e.path for e in examples] + [a.path for a in apart], manifest.root, classifier, settings)
    scored = Scored(manifest, examples, rows[: len(examples)], apart, rows[len(examples):])
    ok = scored.ok
    if not ok.any():
        raise InvalidInput(f"none of the {len(examples)} labelled images could be scored, e.g. "
                           f"{rows[0].image}: {rows[0].reason}")
    y = np.array([e.label for e in examples])[ok]
    p = np.array([r.p_medical for r, good in zip(scored.rows, ok) if good], np.float64)
    pred = np.array([r.label == "medical" for r, good in zip(scored.rows, ok) if good])
    metrics = binary_metrics(p, y, classifier.threshold)
    report = EvalReport(Path(out_dir), metrics, classifier.describe(), selection, manifest.describe_apart(),
                        _apart_scores(scored), scored.failed(), _tables(scored, y, pred), _modality_figures(scored))
    report.out_dir.mkdir(parents=True, exist_ok=True)
    _write(report.out_dir, scored, report, p, y)
    return report
