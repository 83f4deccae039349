"""How long a topic keeps its records, as the broker says (`retention.ms`, `cleanup.policy`)."""

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

_WANTED = ("retention.ms", "cleanup.policy")


async def retention_ms(admin: AIOKafkaAdminClient, topic: str) -> int | None:
    """How long `topic` keeps a record, in milliseconds; None when it keeps them forever:
    `retention.ms` -1, or a compacted topic that is not also deleted by time (the last
    record of each key stays)."""
    [response] = await admin.describe_configs([ConfigResource(
        ConfigResourceType.TOPIC, topic, dict.fromkeys(_WANTED))])
    [(code, message, _, _, entries)] = response.resources
    if code:
        raise for_code(code)(f"cannot read the configuration of topic {topic}: {message}")
    found = {name: value for name, value, *_ in entries}
    if "delete" not in found.get("cleanup.policy", "delete").split(","):
        return None
    retention = int(found.get("retention.ms", "-1"))
    return None if retention < 0 else retention
