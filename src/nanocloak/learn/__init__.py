"""Learning tumor delivery from the Nano-Tumor Database (docs/learning.md).

Stable API::

    from nanocloak.learn import DeliveryModel
    m = DeliveryModel().fit(datasets_df, timecourse_df)
    pred = m.predict(descriptors_df)   # DE24, DE168, Demax (%ID), indexed like the input
"""

from nanocloak.errors import require

require("sklearn", "learn")   # a clear message when the [learn] extra is missing

from nanocloak.learn.cross_validation import CrossValidation, cross_validate  # noqa: E402
from nanocloak.learn.delivery_model import DeliveryModel  # noqa: E402
from nanocloak.learn.formulation_descriptors import descriptors_of, pretrained, tumor_overrides  # noqa: E402

__all__ = ["CrossValidation", "DeliveryModel", "cross_validate", "descriptors_of", "pretrained", "tumor_overrides"]
