"""Failures a user can fix: bad settings, an unreachable or unmigrated database, a broker
that does not answer, each said in one sentence with a hint (`explain`).

The command line turns them into one line and exit code 2 (`cli/error_reporting.py`), a
long-running process logs them the same way (`signals.py`). Anything else is a bug, and
keeps its traceback.
"""

from collections.abc import Iterator

from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

POSTGRES_HINT = ("Is PostgreSQL running (orderstream infra up) and migrated (orderstream db "
                 "upgrade)? The URL comes from ORDERSTREAM_DATABASE_URL or DATABASE_URL.")
KAFKA_HINT = ("Is Kafka running (orderstream infra up)? The address comes from "
              "ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS or KAFKA_BOOTSTRAP_SERVERS.")
KAFKA_CREDENTIALS_HINT = ("The user, password and mechanism come from "
                          "ORDERSTREAM_KAFKA_SASL_USERNAME, ORDERSTREAM_KAFKA_SASL_PASSWORD and "
                          "ORDERSTREAM_KAFKA_SASL_MECHANISM.")
KAFKA_CERTIFICATE_HINT = ("ORDERSTREAM_KAFKA_SSL_CAFILE must name the CA that signed the "
                          "broker's certificate (orderstream infra env --secure prints the "
                          "local broker's).")

INSTANCE_ID_HINT = ("Give each worker process an ORDERSTREAM_KAFKA_GROUP_INSTANCE_ID of its "
                    "own (the name of its pod or unit), or leave it unset "
                    "(docs/kafka.md#static-group-membership).")


class ConfigurationError(Exception):
    """Settings that cannot work, said in the words of the environment variables."""


def settings_error(error: ValidationError) -> ConfigurationError:
    problems = []
    for problem in error.errors(include_url=False):
        if not problem["loc"]:
            problems.append(problem["msg"])
            continue
        name = "_".join(str(part) for part in problem["loc"])
        name = name if name.isupper() else f"ORDERSTREAM_{name.upper()}"
        shown = _shown(name, problem.get("input"))
        problems.append(f"{name}={shown}: {problem['msg']}")
    return ConfigurationError("invalid settings: " + "; ".join(problems))


def _shown(name: str, value: object) -> str:
    """A setting's value as an error message may show it: passwords never, URLs without
    their password."""
    if "PASSWORD" in name:
        return "<hidden>"
    return redacted(value) if "URL" in name and isinstance(value, str) else repr(value)


def explain(error: BaseException) -> str | None:
    """A sentence for a failure the user can fix, or None when it is a bug."""
    for cause in _chain(error):
        message = _explain_one(cause)
        if message is not None:
            return message
    return None


def _explain_one(error: BaseException) -> str | None:
    if isinstance(error, ConfigurationError):
        return str(error)
    if isinstance(error, ValidationError):
        return str(settings_error(error))
    name = type(error).__name__
    module = type(error).__module__
    if name == "BrokerRefusedCredentials":
        return f"Kafka refused the credentials: {error}. {KAFKA_CREDENTIALS_HINT}"
    if name == "BrokerCertificateUntrusted":
        return f"Kafka's certificate is not trusted: {error}. {KAFKA_CERTIFICATE_HINT}"
    if name == "GroupInstanceIdInUse":
        return f"{error}. {INSTANCE_ID_HINT}"
    if name == "BrokerUnreachable":
        return f"cannot reach Kafka: {error}. {KAFKA_HINT}"
    if module.startswith("aiokafka") and name in {"KafkaConnectionError", "KafkaTimeoutError",
                                                  "NoBrokersAvailable"}:
        return f"cannot reach Kafka: {error}. {KAFKA_HINT}"
    if isinstance(error, sa_exc.DBAPIError):
        return _database_error(error)
    if module.startswith("asyncpg"):
        return _asyncpg_error(name, error)
    if isinstance(error, OSError | TimeoutError):
        return f"cannot reach PostgreSQL: {error}. {POSTGRES_HINT}"
    return None


def _database_error(error: sa_exc.DBAPIError) -> str | None:
    orig = error.orig
    inner = getattr(orig, "__cause__", None) or orig
    if inner is not None and type(inner).__module__.startswith("asyncpg"):
        return _asyncpg_error(type(inner).__name__, inner)
    if error.connection_invalidated:
        return f"lost the connection to PostgreSQL: {orig}. {POSTGRES_HINT}"
    return None


def _asyncpg_error(name: str, error: BaseException) -> str | None:
    if name == "UndefinedTableError":
        return (f"the database has no orderstream tables ({error}): run "
                "`orderstream db upgrade` against it first")
    if name in {"InvalidCatalogNameError", "InvalidPasswordError",
                "InvalidAuthorizationSpecificationError", "CannotConnectNowError",
                "TooManyConnectionsError", "ConnectionDoesNotExistError"}:
        return f"cannot use PostgreSQL: {error}. {POSTGRES_HINT}"
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            for inner in current.exceptions:
                yield from _chain(inner)
        current = current.__cause__ or current.__context__


def redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<not a URL>"
