"""Keys go to the partition Kafka's default partitioner (aiokafka's, murmur2) chooses."""

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from adapters.kafka.partitions import murmur2, partition_of


@given(st.binary(max_size=200))
def test_the_hash_is_aiokafkas_murmur2(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(min_size=1, max_size=80), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_partition_the_default_partitioner_chooses(key: bytes,
                                                                     count: int) -> None:
    partitions = list(range(count))
    assert partition_of(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_known_values_of_the_java_client() -> None:
    # From Kafka's UtilsTest.testMurmur2 (the signed int32 results, here unsigned).
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             b"abc": 479470107}
    assert {data: murmur2(data) for data in cases} == {
        data: value & 0xFFFFFFFF for data, value in cases.items()}


def test_a_key_without_bytes_goes_to_one_of_the_partitions() -> None:
    assert partition_of(None, [3, 5, 7]) in (3, 5, 7)
