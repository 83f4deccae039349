"""All configuration, read once from the environment (prefix ORDERSTREAM_)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERSTREAM_", extra="ignore")

    store: Literal["memory", "postgres"] = "memory"
    transport: Literal["memory", "kafka"] = "memory"
    database_url: str = "postgresql+asyncpg://orderstream:orderstream@127.0.0.1:15432/orderstream"
    database_pool_size: int = Field(default=10, ge=1)
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    partitions: int = Field(default=3, ge=1, description="partitions per topic on the memory bus")
    consumer_batch_size: int = Field(default=500, ge=1)
    relay_batch_size: int = Field(default=500, ge=1)
