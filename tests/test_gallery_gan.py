"""The GAN gallery example's stored generator draws recognizable digits (issue 26).

An independent judge: scikit-learn's logistic regression trained on the images the GAN trained on
(the 8x8 digits upscaled to 28x28) labels generated samples; a class counts as covered when at
least ``MIN_SHARE`` of the samples are confidently (p >= ``MIN_CONFIDENCE``) of that class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from hybridqml.data import load_image_split
from hybridqml.entropy import EntropyPool, PRNGSource, normal
from hybridqml.workflows import Generator

WEIGHTS = Path(__file__).resolve().parents[1] / "examples" / "_weights" / "gan_digits_generator.pt"
SAMPLES = 500
MIN_CONFIDENCE = 0.5
MIN_SHARE = 0.01


def pooled(images: np.ndarray) -> np.ndarray:
    """(N, 784) or (N, 1, 28, 28) -> (N, 49): 4x4 means, about the digits' own 8x8 detail."""
    return images.reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(images), -1)


@pytest.fixture(scope="module")
def judge() -> LogisticRegression:
    split = load_image_split(dataset="digits", data_dir=None)
    x, y = (t.numpy() for t in split.train.tensors)
    model = LogisticRegression(max_iter=200).fit(pooled(x), y)
    x_test, y_test = (t.numpy() for t in split.test.tensors)
    assert model.score(pooled(x_test), y_test) > 0.9  # a judge worth asking
    return model


def coverage(judge: LogisticRegression, generator: Generator, seed: int) -> int:
    z = normal(EntropyPool(PRNGSource(seed=seed), health_tests=False), (SAMPLES, 100))
    with torch.no_grad():
        images = (generator(z).numpy() + 1) / 2  # tanh output -> the data's [0, 1]
    proba = judge.predict_proba(pooled(images))
    confident = proba.max(axis=1) >= MIN_CONFIDENCE
    counts = np.bincount(proba.argmax(axis=1)[confident], minlength=10)
    return int((counts >= MIN_SHARE * SAMPLES).sum())


def stored_generator() -> Generator:
    stored = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    parts = stored["generator"]  # int8 matrices with per-row scales, float16 biases
    state = {k: v.float() for k, v in parts["float16"].items()}
    state.update({k: v.float() * parts["scale"][k][:, None] for k, v in parts["int8"].items()})
    generator = Generator(latent_dim=stored["meta"]["latent_dim"])
    generator.load_state_dict(state)
    return generator.eval()


def test_the_stored_generator_covers_at_least_8_digit_classes(judge):
    assert coverage(judge, stored_generator(), seed=1) >= 8


def test_an_untrained_generator_does_not_pass_the_coverage_check(judge):
    torch.manual_seed(0)
    assert coverage(judge, Generator().eval(), seed=1) < 8
