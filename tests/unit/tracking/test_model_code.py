"""What a logged model takes (tracker/tracking/model_code.py): whole numbers 0-255, as its dataset
stores the images or with the channel axis first; everything else is refused with a message
naming what it takes. And why the model states no input schema: MLflow's scoring server casts
a request to a tensor schema's dtype first, which would turn pixels scaled to 0-1 into a black
image the check accepts."""
import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from tracker.ml.datasets import DATASETS
from tracker.ml.inference import package
from tracker.tracking.model_code import Classifier

MNIST = DATASETS["mnist"]
TAKES = "uint8 pixels 0-255 (whole numbers), N x 28 x 28 as mnist stores them, or N x 1 x 28 x 28"


def classifier(stored=(28, 28), channels_first=(1, 28, 28)) -> Classifier:
    """The model's check as load_context sets it up, from the model_config tracker logs."""
    model = Classifier()
    model.shape, model.channels_first, model.takes = stored, channels_first, TAKES
    return model


@pytest.fixture
def digits() -> np.ndarray:
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    images[:, 0, 0] = 255  # a real digit's brightest pixel
    return images


def test_the_facts_logged_are_the_ones_checked():
    import torch

    from tracker.ml.models import build_model
    from tracker.config import make_config

    net = build_model(make_config({"dataset": "mnist", "arch": "mnist-small"}))
    facts = package(net, "mnist", False, torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).facts
    assert facts["input"] == TAKES and tuple(facts["shape"]) == MNIST.stored_shape
    assert tuple(facts["channels_first"]) == MNIST.shape


@pytest.mark.parametrize("sent", [
    lambda d: d, lambda d: d.astype(np.int64), lambda d: d.astype(np.float64), lambda d: d.tolist(),
    lambda d: d[:, None], lambda d: d[:, None].astype(np.float32)])
def test_pixels_as_stored_as_numbers_or_with_a_channel_axis_are_taken_as_they_are(digits, sent):
    taken = classifier().pixels(sent(digits))
    assert taken.dtype == np.uint8 and np.array_equal(taken, digits)


def test_colour_images_with_the_channel_axis_first_are_moved_to_the_end():
    images = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    model = classifier((32, 32, 3), (3, 32, 32))
    assert np.array_equal(model.pixels(images.transpose(0, 3, 1, 2)), images)
    assert np.array_equal(model.pixels(images), images)


@pytest.mark.parametrize("sent,why", [
    (lambda d: d / 255.0, "got fractions from 0 to 1 (pixels scaled to 0-1?)"),
    (lambda d: (d / 255.0 - 0.1307) / 0.3081, "got fractions from -0.4242 to 2.821 (normalized?)"),
    (lambda d: d + 0.5, "got fractions from 0.5 to 255.5"),
    (lambda d: d.astype(np.int64) + 1, "got values from 1 to 256"),
    (lambda d: d.astype(np.int64) - 1, "got values from -1 to 254"),
    (lambda d: (d > 127).astype(np.float64), "image 0's brightest pixel is 1 (pixels scaled to 0-1?)"),
    (lambda d: np.where(d > 0, np.nan, 0.0), "got NaN or infinite values"),
    (lambda d: d > 127, "got values of dtype bool"),
    (lambda d: d.astype(str), "got values of dtype <U3"),
    (lambda d: d.reshape(3, -1), "got shape 3 x 784"),
    (lambda d: d[:, None, :, :27], "got shape 3 x 1 x 28 x 27"),
    (lambda d: d[0], "got shape 28 x 28"),
    (lambda d: d[:0], "got no images"),
])
def test_anything_else_is_refused_naming_what_the_model_takes(digits, sent, why):
    with pytest.raises(MlflowException) as refused:
        classifier().pixels(sent(digits))
    assert refused.value.message == f"this model takes {TAKES}; {why}"
    assert refused.value.get_http_status_code() == 400


def test_a_uint8_schema_would_let_normalized_images_through(digits):
    """The rule deliberately wrong: with the uint8 tensor schema the model used to state,
    MLflow's server casts a request before the model sees it; normalized floats arrive as whole
    numbers 0, 1 and 2, which the check takes for a dark image and the model would answer.
    Without a schema the server passes the floats as sent, and the check refuses them. (If
    MLflow ever refuses such a cast itself, a schema could come back.)"""
    from mlflow.types import Schema, TensorSpec
    from mlflow.utils.proto_json_utils import parse_tf_serving_input

    normalized = (digits / 255.0 - MNIST.mean[0]) / MNIST.std[0]
    request = {"inputs": normalized.tolist()}
    cast = parse_tf_serving_input(request, Schema([TensorSpec(np.dtype(np.uint8), (-1, 28, 28))]))
    assert cast.dtype == np.uint8 and set(np.unique(cast)) == {0, 1, 2}
    assert np.array_equal(classifier().pixels(cast), cast)  # taken: the wrong answer, with 200
    as_sent = parse_tf_serving_input(request, None)
    assert as_sent.dtype == np.float64 and np.array_equal(as_sent, normalized)
    with pytest.raises(MlflowException, match="got fractions from -0.4242 to 2.821"):
        classifier().pixels(as_sent)
