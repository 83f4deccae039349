"""What a bench run says about the compiled speed-ups it ran with."""

import json

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from orderstream_dev.bench.environment import compiled


def test_aiokafkas_record_batch_builder_is_its_compiled_one():
    assert compiled(DefaultRecordBatchBuilder)


def test_a_class_of_python_source_or_of_the_interpreter_is_told_apart():
    assert not compiled(json.JSONDecoder)
    assert compiled(int)
