"""Release tags are immutable: whether to push a release tag that may already exist. Pure.

A release tag (``X.Y.Z`` of the image, of the chart, or of any other artifact a release
pushes) names one content for ever. Before pushing, the release compares what the registry
holds under the tag with what it would push, and decides:

- the tag does not exist: **push**;
- it holds the same content (the digest it would push, or every identifying label equal,
  e.g. ``org.opencontainers.image.revision``, the commit it was built from): **skip**, and
  go on with what is there;
- it holds other content: **refuse**, naming what differs. A re-run never moves a tag.

``held`` is read from the registry (``sync.release.published``); this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping


class Action(Enum):
    PUSH = "push"
    SKIP = "skip"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Held:
    """What a tag holds now: its manifest (or index) digest, and its labels and annotations."""

    digest: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Wanted:
    """What the release would push: its digest when already built, else the labels that
    identify the content (at least one of the two)."""

    digest: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    digest: str | None = None  # the digest that stays under the tag when skipped

    @property
    def ok(self) -> bool:
        return self.action is not Action.REFUSE


def decide(ref: str, held: Held | None, wanted: Wanted) -> Decision:
    """Push, skip or refuse ``ref`` (``name:tag``, for the messages)."""
    if wanted.digest is None and not wanted.labels:
        raise ValueError("nothing identifies the wanted content: give a digest or labels")
    if held is None:
        return Decision(Action.PUSH, f"{ref} does not exist yet")
    if wanted.digest is not None:
        if held.digest == wanted.digest:
            return Decision(Action.SKIP, f"{ref} already holds {held.digest}", held.digest)
        return Decision(Action.REFUSE, f"{ref} already holds {held.digest}, not {wanted.digest}: "
                                       "a release tag is never moved")
    for key in sorted(wanted.labels):
        have = held.labels.get(key)
        if have != wanted.labels[key]:
            shown = "no such label" if have is None else repr(have)
            return Decision(Action.REFUSE, f"{ref} already holds other content ({held.digest}, {key}: {shown}, "
                                           f"not {wanted.labels[key]!r}): a release tag is never moved")
    same = ", ".join(f"{k}={wanted.labels[k]}" for k in sorted(wanted.labels))
    return Decision(Action.SKIP, f"{ref} already holds this content ({same}) as {held.digest}", held.digest)
