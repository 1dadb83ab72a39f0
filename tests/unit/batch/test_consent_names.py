"""The consent names the sources carry are the vocabulary's: what the batch reads from a source's
consent map is what the speed layer reads from a ``consent_change`` event (batch ≡ speed)."""

from __future__ import annotations

from identity.consents import load_vocabulary
from identity.sources import load_sources
from infra.settings import Settings

CONF = Settings().conf_dir
V = load_vocabulary(CONF / "consents.yaml")


def test_every_consent_name_of_a_source_is_understood() -> None:
    for source in load_sources(CONF / "sources"):
        unknown = [name for name in source.consents if V.term(name) is None]
        assert not unknown, f"{source.name}: consent names outside conf/consents.yaml: {unknown}"


def test_the_stream_source_carries_every_name_an_event_may_state() -> None:
    stream = next(s for s in load_sources(CONF / "sources") if s.name == "stream")
    wanted = {f"{p}_{c}" for p in V.purposes for c in V.channels} | set(V.config.names)
    assert wanted <= set(stream.consents), sorted(wanted - set(stream.consents))
    assert stream.attributes.get("legal_basis") == "legal_basis"
