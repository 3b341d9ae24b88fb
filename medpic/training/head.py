"""The decision heads on frozen backbone features: medical or not, and which modality.

Measured on the leave-sources-out split (5 folds of whole sources, dataset v3); the figures are
in the model card. What mattered:

- sample weights of ``1/sqrt(images in the source)``, normalised per class, so a 300-image
  source does not outvote a 20-image one and both classes weigh the same (the 1.5:1 imbalance);
- standardised inputs; the scaling is folded into the first layer's weights so that serving is
  plain dense layers over the raw feature vector;
- for the medical head, one hidden layer (256 ReLU units, dropout, L2) over a linear one:
  0.943 against 0.935 held-out-source accuracy on Lite0 features. An interaction between
  texture statistics and the embedding ("grey, grainy *and* not a seismic section") is what a
  linear head cannot express.

The modality head is a multinomial logistic regression fitted on medical images only: it answers
"which kind of medical image", and serving asks it only when the medical head said medical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LinearHead", "MlpHead", "ModalityHead", "EnsembleHead", "split_columns", "source_balanced_weights",
           "fit_linear_head", "fit_mlp_head", "fit_modality_head"]


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    return (x - mean) / std, mean, std


@dataclass(frozen=True)
class LinearHead:
    """``logit = features @ weight + bias``, standardisation already folded in."""

    weight: np.ndarray  # (D,) float32
    bias: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float64) @ self.weight.astype(np.float64) + self.bias

    def layers(self) -> list[tuple[np.ndarray, np.ndarray, str | None]]:
        """(kernel, bias, activation) of each dense layer, for the exported Keras model."""
        return [(self.weight.reshape(-1, 1), np.array([self.bias], np.float32), None)]


@dataclass(frozen=True)
class MlpHead:
    """``logit = relu(features @ w1 + b1) @ w2 + b2``, standardisation folded into ``w1``/``b1``."""

    w1: np.ndarray  # (D, H) float32
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H,)
    b2: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        hidden = np.maximum(np.asarray(features, np.float64) @ self.w1.astype(np.float64) + self.b1, 0.0)
        return hidden @ self.w2.astype(np.float64) + self.b2

    def layers(self) -> list[tuple[np.ndarray, np.ndarray, str | None]]:
        return [(self.w1, self.b1, "relu"), (self.w2.reshape(-1, 1), np.array([self.b2], np.float32), None)]


@dataclass(frozen=True)
class ModalityHead:
    """``logits = features @ weight + bias`` over ``classes``, standardisation folded in."""

    classes: tuple[str, ...]
    weight: np.ndarray  # (D, K) float32
    bias: np.ndarray  # (K,)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float64) @ self.weight.astype(np.float64) + self.bias

    def layers(self) -> list[tuple[np.ndarray, np.ndarray, str | None]]:
        return [(self.weight, self.bias, None)]


@dataclass(frozen=True)
class EnsembleHead:
    """The mean logit of one medical head per backbone, each over its own backbone's columns of the
    concatenated feature vector (``widths``, in order).

    Averaging a Lite0 head with a Lite2 head moved held-out-source accuracy more than either
    backbone alone or one head over both feature vectors: their errors fall on different images."""

    heads: tuple[LinearHead | MlpHead, ...]
    widths: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.heads or len(self.heads) != len(self.widths):
            raise ValueError(f"{len(self.heads)} heads for {len(self.widths)} backbones' features")

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.mean([h.logits(x) for h, x in zip(self.heads, split_columns(features, self.widths))], axis=0)


def split_columns(features: np.ndarray, widths: tuple[int, ...]) -> list[np.ndarray]:
    """``features`` (every backbone's side by side) cut into each backbone's ``widths`` columns."""
    features = np.asarray(features)
    if features.shape[1] != sum(widths):
        raise ValueError(f"features have {features.shape[1]} columns, the heads read {sum(widths)}")
    return np.split(features, np.cumsum(widths)[:-1], axis=1)


def source_balanced_weights(labels: np.ndarray, sources: np.ndarray, emphasis: np.ndarray | None = None, *,
                            source_power: float = 0.5) -> np.ndarray:
    """Per-sample weights: 1/(source size)^``source_power`` (1/sqrt: 1/size and 1/size^0.25 both did
    worse on held-out sources), times ``emphasis`` where given, each class summing to an equal
    share of the total."""
    labels, sources = np.asarray(labels), np.asarray(sources)
    names, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse].astype(np.float64) ** source_power
    if emphasis is not None:
        w = w * np.asarray(emphasis, np.float64)
    classes = np.unique(labels)
    for label in classes:
        mask = labels == label
        w[mask] *= (1.0 / len(classes)) / w[mask].sum()
    return w * (len(w) / w.sum())


def fit_linear_head(features: np.ndarray, labels: np.ndarray, sources: np.ndarray, *, c: float = 0.003,
                    max_iter: int = 3000) -> LinearHead:
    """Fit the linear medical head; deterministic for the same inputs (L-BFGS, no sampling)."""
    from sklearn.linear_model import LogisticRegression

    x, mean, std = _standardise(features)
    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit(x, labels, sample_weight=source_balanced_weights(labels, sources))
    coef = model.coef_[0] / std
    bias = float(model.intercept_[0] - (coef * mean).sum())
    return LinearHead(coef.astype(np.float32), bias)


def fit_mlp_head(features: np.ndarray, labels: np.ndarray, sources: np.ndarray, *, members: int = 5,
                 hidden: int = 256, epochs: int = 30, dropout: float = 0.5, l2: float = 1e-3, seed: int = 0,
                 emphasis: np.ndarray | None = None, smoothing: float = 0.0, source_power: float = 0.5) -> MlpHead:
    """Fit ``members`` one-hidden-layer heads (seeds ``seed``, ``seed + 1``, ...) and return their
    average as one wider MLP: the hidden layers side by side, the output weights divided by
    ``members``. The average logit costs one dense layer more at serving and removes most of a
    single head's seed-to-seed swing (0.937 to 0.943 held-out accuracy across two seeds).
    ``emphasis`` and ``source_power`` shape the source-balanced weights (``source_balanced_weights``);
    ``smoothing`` is binary label smoothing (measured in ``bench/recipes.py``: no gain, so the recipe
    keeps 0)."""
    weights = source_balanced_weights(labels, sources, emphasis, source_power=source_power)
    fitted = [_fit_one_mlp(features, labels, weights, hidden=hidden, epochs=epochs, dropout=dropout, l2=l2,
                           seed=seed + m, smoothing=smoothing) for m in range(members)]
    return MlpHead(np.concatenate([h.w1 for h in fitted], axis=1), np.concatenate([h.b1 for h in fitted]),
                   np.concatenate([h.w2 for h in fitted]) / members, float(np.mean([h.b2 for h in fitted])))


def _fit_one_mlp(features: np.ndarray, labels: np.ndarray, weights: np.ndarray, *, hidden: int, epochs: int,
                 dropout: float, l2: float, seed: int, smoothing: float = 0.0) -> MlpHead:
    """One head, trained with Adam on standardised features; seeded, so the same inputs give the same head."""
    import keras

    keras.utils.set_random_seed(seed)
    x, mean, std = _standardise(features)
    model = keras.Sequential([
        keras.Input((x.shape[1],)),
        keras.layers.Dropout(0.2, seed=seed),
        keras.layers.Dense(hidden, activation="relu", kernel_regularizer=keras.regularizers.l2(l2)),
        keras.layers.Dropout(dropout, seed=seed),
        keras.layers.Dense(1),
    ])
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing))
    model.fit(x.astype(np.float32), np.asarray(labels, np.float32), sample_weight=weights, epochs=epochs,
              batch_size=256, shuffle=True, verbose=0)
    (w1, b1), (w2, b2) = model.layers[1].get_weights(), model.layers[3].get_weights()
    w1 = w1.astype(np.float64) / std[:, None]
    b1 = b1.astype(np.float64) - mean @ w1
    return MlpHead(w1.astype(np.float32), b1.astype(np.float32), w2.reshape(-1).astype(np.float32), float(b2[0]))


def fit_modality_head(features: np.ndarray, modalities: np.ndarray, sources: np.ndarray, *, c: float = 0.01,
                      max_iter: int = 3000) -> ModalityHead:
    """Fit the multinomial modality head on medical images; classes are the sorted modality names."""
    from sklearn.linear_model import LogisticRegression

    x, mean, std = _standardise(features)
    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit(x, modalities, sample_weight=source_balanced_weights(modalities, sources))
    coef = model.coef_.T / std[:, None]  # (D, K)
    bias = model.intercept_ - mean @ coef
    return ModalityHead(tuple(str(c) for c in model.classes_), coef.astype(np.float32), bias.astype(np.float32))
