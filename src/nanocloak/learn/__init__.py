"""Learning tumor delivery from the Nano-Tumor Database (docs/learning.md).

Stable API::

    from nanocloak.learn import DeliveryModel
    m = DeliveryModel().fit(datasets_df, timecourse_df)
    pred = m.predict(descriptors_df)   # DE24, DE168, Demax (%ID), indexed like the input
"""

import importlib.util

from nanocloak.errors import MissingExtraError

if importlib.util.find_spec("sklearn") is None:  # a clear message when the [learn] extra is missing
    raise MissingExtraError("this needs sklearn, part of an optional extra: pip install 'nanocloak[learn]'")

from nanocloak.learn.delivery_model import DeliveryModel  # noqa: E402
from nanocloak.learn.formulation_descriptors import descriptors_of, pretrained, tumor_overrides  # noqa: E402


def __getattr__(name: str):
    """cross_validate and CrossValidation on first use: they import scikit-learn (~2 s), which
    `learn predict` and the simulator's learned tumor parameters never need."""
    if name in ("CrossValidation", "cross_validate"):
        from nanocloak.learn import cross_validation

        return getattr(cross_validation, name)
    raise AttributeError(f"module 'nanocloak.learn' has no attribute {name!r}")

__all__ = ["CrossValidation", "DeliveryModel", "cross_validate", "descriptors_of", "pretrained", "tumor_overrides"]
