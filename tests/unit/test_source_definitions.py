"""A wrong source definition fails at load, naming the file, the field and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.sources import SourceDefinitionError, load_source, load_sources

GOOD = """\
name: crm
location: crm
format: csv
record_id: customer_id
priority: 1
identifiers:
  - {column: customer_id, type: crm_id}
  - {column: email, type: email}
attributes: {first_name: first_name}
"""


def _write(tmp_path: Path, text: str, name: str = "crm.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_definition_loads(tmp_path):
    source = load_source(_write(tmp_path, GOOD), known_types={"crm_id", "email"})
    assert source.name == "crm" and source.columns() >= {"customer_id", "email", "first_name"}


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (("format: csv", "format: xls"), "format", "csv"),
        (("priority: 1", "priority: 0"), "priority", "greater than or equal"),
        (("record_id: customer_id\n", "record_id: customer_id\nrecord_key: x\n"), "record_key", "Extra inputs"),
        (("  - {column: email, type: email}", "  - {column: customer_id, type: email}"), "identifiers", "mapped twice"),
    ],
)
def test_bad_definition_names_file_field_and_problem(tmp_path, change, field, problem):
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(SourceDefinitionError) as err:
        load_source(path)
    message = str(err.value)
    assert str(path) in message and f"field '{field}" in message and problem in message


def test_unknown_identifier_type_is_named(tmp_path):
    path = _write(tmp_path, GOOD.replace("type: email", "type: e_mail"))
    with pytest.raises(SourceDefinitionError, match=r"identifiers\.email\.type.*unknown identifier type 'e_mail'"):
        load_source(path, known_types={"crm_id", "email"})


def test_event_source_needs_event_time(tmp_path):
    path = _write(tmp_path, GOOD + "kind: event\n")
    with pytest.raises(SourceDefinitionError, match="event_time"):
        load_source(path)


def test_not_yaml_and_duplicates(tmp_path):
    with pytest.raises(SourceDefinitionError, match="not valid YAML"):
        load_source(_write(tmp_path, "name: [unclosed"))
    folder = tmp_path / "defs"
    folder.mkdir()
    _write(folder, GOOD, "a.yaml")
    _write(folder, GOOD, "b.yaml")
    with pytest.raises(SourceDefinitionError, match="duplicate source name"):
        load_sources(folder)


def test_channel_is_fixed_or_read_from_a_column_not_both(tmp_path):
    events = GOOD + "kind: event\nevent_time: updated_at\n"
    by_column = load_source(_write(tmp_path, events + "channel_column: channel\n"))
    assert by_column.channel is None and "channel" in by_column.columns()
    with pytest.raises(SourceDefinitionError, match="either 'channel'"):
        load_source(_write(tmp_path, events + "channel: web\nchannel_column: channel\n"))


def test_the_stream_source_reads_each_events_channel():
    stream = load_source(Path(__file__).resolve().parents[2] / "conf" / "sources" / "stream.yaml")
    assert stream.channel_column == "channel"


def test_event_types_need_the_event_type_column(tmp_path):
    text = GOOD + "kind: event\nevent_time: at\nevent_type: what\nevent_types: {open: email_open, voice: call}\n"
    assert load_source(_write(tmp_path, text)).event_types == {"open": "email_open", "voice": "call"}
    without_column = text.replace("event_type: what\n", "")
    with pytest.raises(SourceDefinitionError, match="event_types"):
        load_source(_write(tmp_path, without_column))


def test_shipped_event_sources_speak_the_streams_vocabulary():
    """Batch extracts name events as the stream does (conf/events/event.schema.json lists them)."""
    repo = Path(__file__).resolve().parents[2]
    sources = {s.name: s for s in load_sources(repo / "conf" / "sources")}
    assert sources["email_campaigns"].event_types["open"] == "email_open"
    assert sources["contact_center"].event_types["voice"] == "call"
