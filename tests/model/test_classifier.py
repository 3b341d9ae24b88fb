"""The bundled model, served: verdicts on real sample images, calibration maths, thread safety."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from medpic.errors import InvalidInput
from medpic.model.classifier import Classifier
from medpic.model.calibration import sigmoid
from medpic.settings import Settings


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(Settings())


@pytest.fixture(scope="module")
def samples(request):
    from skimage import data

    medical = [request.getfixturevalue(n) for n in ("retina", "histology", "ct_slice")]
    non_medical = [Image.fromarray(a) for a in (data.chelsea(), data.coffee(), data.astronaut(), data.rocket())]
    return medical, non_medical


def test_bundled_model_is_used_by_default(classifier):
    assert classifier.location.origin == "bundled"
    assert classifier.config.labels == ("non-medical", "medical")
    assert 0 < classifier.threshold < 1 and classifier.config.temperature > 0


def test_real_medical_and_everyday_pictures_are_told_apart(classifier, samples):
    medical, non_medical = samples
    preds = classifier.predict(medical + non_medical)
    assert [p.label for p in preds[: len(medical)]] == ["medical"] * len(medical), preds
    assert [p.label for p in preds[len(medical):]] == ["non-medical"] * len(non_medical), preds


def test_prediction_fields_are_consistent(classifier, samples):
    for p in classifier.predict(samples[0] + samples[1]):
        assert 0.0 <= p.p_medical <= 1.0
        assert p.p_medical == pytest.approx(float(sigmoid(p.logit / classifier.config.temperature)))
        expected = p.p_medical if p.label == "medical" else 1 - p.p_medical
        assert p.confidence == pytest.approx(expected)


def test_threshold_override_moves_the_decision(classifier, samples):
    t = classifier.config.temperature
    logit = np.array([0.3 * t])  # calibrated p = sigmoid(0.3) = 0.574
    assert classifier.postprocess(logit, threshold=0.55)[0].label == "medical"
    assert classifier.postprocess(logit, threshold=0.60)[0].label == "non-medical"
    image = samples[0][0]
    p = classifier.predict([image])[0].p_medical
    assert classifier.predict([image], threshold=min(p * 0.5, 0.5))[0].label == "medical"
    with pytest.raises(InvalidInput):
        classifier.predict([image], threshold=1.5)


def test_batching_does_not_change_results(classifier, samples):
    images = samples[0] + samples[1]
    together = [p.logit for p in classifier.predict(images)]
    alone = [classifier.predict([im])[0].logit for im in images]
    assert np.allclose(together, alone, atol=1e-5)


def test_safe_to_share_between_threads(classifier, samples):
    images = samples[0] + samples[1]
    expected = [p.logit for p in classifier.predict(images)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: [p.logit for p in classifier.predict(images)], range(8)))
    for r in results:
        assert np.allclose(r, expected, atol=1e-5)


def test_empty_input_gives_empty_output(classifier):
    assert classifier.predict([]) == []
