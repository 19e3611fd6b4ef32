"""Brain tumors behind the blood-brain barrier and lung metastases of the primary (issue 17).

`subject.tumor.bbb` (intact | disrupted) is allowed for brain tumors only (site: brain, or a cancer
type of brain: glioma, glioblastoma, ...); `subject.tumor.post_surgical` (a resected, inflamed
brain tumor) likewise. Default: `disrupted`. The library's brain-tumor parameters are the medians
of Nano-Tumor Database fits of implanted brain tumors that particles did reach (tumor.yaml), i.e.
of a leaky blood-brain tumor barrier, and a resected tumor is disrupted by the surgery (Xue J et al.
2017, Nat Nanotechnol 12:692: inflammatory factors after resection guide neutrophils into the
inflamed brain). `intact` is the user's choice for a tumor whose vessels keep the BBB.
`subject.tumor.metastases: {lung: true}` asks for the lung-metastasis estimate (docs/brain_metastasis.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict

from nanocloak.spec.fields import Lower

Bbb = Annotated[Literal["intact", "disrupted"], Lower]

#: the cancer type (cancer_types.yaml) and tumor site that make a tumor a brain tumor
BRAIN_TYPE, BRAIN_SITE = "brain", "brain"


class Metastases(BaseModel):
    """Which metastases the run estimates; only the lungs so far."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True)
    lung: bool = False


def is_brain_tumor(tumor) -> bool:
    return tumor.site == BRAIN_SITE or tumor.type == BRAIN_TYPE


def check_brain(tumor) -> None:
    """Fill the default BBB state of a brain tumor; refuse bbb / post_surgical elsewhere (called
    once tumor.type has its default from the line)."""
    if not is_brain_tumor(tumor):
        for name in ("bbb", "post_surgical"):
            if getattr(tumor, name) not in (None, False):
                raise ValueError(f"tumor.{name}: only for brain tumors (site: brain, or a brain cancer type such "
                                 f"as glioma); this tumor is a {tumor.type} tumor at site {tumor.site}")
        return
    if tumor.bbb is None:
        tumor.bbb = "disrupted"
