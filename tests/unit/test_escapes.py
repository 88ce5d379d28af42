"""flafka.escapes: the ``%{header}`` escapes alone (the Kafka sink's topic; more in sinks/test_kafka_sink_config.py)."""

from __future__ import annotations

from flafka.escapes import compile_header_escapes, has_header_escapes


def test_header_names_are_ascii_as_in_java() -> None:
    # Java's \w is [a-zA-Z0-9_]: Flume leaves %{café} as written, and so does flafka
    assert compile_header_escapes("%{caf\u00e9}-%{cafe}")({"caf\u00e9": "x", "cafe": "y"}) == "%{caf\u00e9}-y"
    assert not has_header_escapes("%{caf\u00e9}")
    assert has_header_escapes("%{Caf_3.e-x}")
