"""The model file: Splink's own JSON, plus a ``.ucid.json`` sidecar with its version and report.

``MODEL.json`` is exactly what Splink saves (``Linker(df, "MODEL.json")`` loads it anywhere);
``MODEL.ucid.json`` holds the spec it was trained from (thresholds, vetoes, limits: the decision
rules), the version (the first 16 hex digits of the SHA-256 of the canonical Splink JSON and
spec, so the same model always has the same version and an edited parameter or threshold never
passes for the trained one), the training report, and the term frequencies of the training
data (``term_frequencies``: column -> value -> frequency, for the comparisons with term-frequency
adjustments). Every backend scores with those frequencies, not with ones computed from the data
it scores: a pair's score is then a function of the two records and the model alone, so the
speed layer (scoring one record against a few candidates) and the batch (scoring the whole lake)
give a pair the same score. Loading checks the hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from identity.match import MatchSpec, spec_from_dict

FORMAT = 1


class ModelFileError(ValueError):
    """A model file or its sidecar is missing, unreadable, or does not match its version."""


TermFrequencies = dict[str, dict[str, float]]
"""column -> cleaned value -> share of the training rows holding it (Splink's ``tf_<column>``)."""


def model_version(splink_model: dict[str, Any], spec: MatchSpec, tf: TermFrequencies | None = None) -> str:
    doc: dict[str, Any] = {"splink": splink_model, "spec": spec.model_dump(mode="json")}
    if tf:  # models trained before term frequencies were kept keep their version
        doc["tf"] = tf
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class TrainedModel:
    """A trained model: Splink's settings dict, the spec it came from, the training report and
    the training data's term frequencies (empty for a model trained before they were kept: then
    each backend computes them from the data it scores, as Splink does by default)."""

    splink: dict[str, Any]
    spec: MatchSpec
    report: dict[str, Any] = field(default_factory=dict)
    tf: TermFrequencies = field(default_factory=dict)

    @property
    def version(self) -> str:
        return model_version(self.splink, self.spec, self.tf)


def sidecar(path: Path) -> Path:
    return path.with_name(path.stem + ".ucid.json")


def save_model(path: Path, model: TrainedModel) -> None:
    """Write ``path`` (Splink JSON) and its sidecar, each atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": model.version, "spec": model.spec.model_dump(mode="json"),
            "report": model.report, **({"term_frequencies": model.tf} if model.tf else {})}
    for target, doc in ((path, model.splink), (sidecar(path), meta)):
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(target)


def load_model(path: Path) -> TrainedModel:
    """Read a model and its sidecar; :class:`ModelFileError` if either is unusable."""
    try:
        splink_model = json.loads(path.read_text(encoding="utf-8"))
        meta = json.loads(sidecar(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelFileError(f"{exc.filename}: cannot read: {exc.strerror} (train one with `ucid model train`)") from exc
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not valid JSON: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{sidecar(path)}: unknown format {meta.get('format')!r} (expected {FORMAT})")
    spec = spec_from_dict(meta.get("spec"), str(sidecar(path)))
    tf = {c: {str(v): float(f) for v, f in values.items()}
          for c, values in (meta.get("term_frequencies") or {}).items()}
    version = model_version(splink_model, spec, tf)
    if meta.get("version") != version:
        raise ModelFileError(
            f"{path}: version {version} does not match the sidecar's {meta.get('version')!r}: "
            "the model or its spec was changed after training; train it again"
        )
    return TrainedModel(splink_model, spec, meta.get("report", {}), tf)
