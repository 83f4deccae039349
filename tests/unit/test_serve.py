"""How `orderstream serve` configures uvicorn."""

from adapters.http.server import ProblemHttpToolsProtocol
from orderstream.cli.serve_commands import server_config
from orderstream.runtime.settings import Settings

# The idle timeout of AWS's Application Load Balancer, the most common front of an API.
LOAD_BALANCER_IDLE_S = 60


def test_idle_connections_are_kept_longer_than_a_load_balancer_keeps_them():
    config = server_config(Settings())

    assert config.timeout_keep_alive == Settings().api_keep_alive_s > LOAD_BALANCER_IDLE_S
    assert server_config(Settings(api_keep_alive_s=620)).timeout_keep_alive == 620


def test_uvicorns_own_answers_are_problem_documents():
    assert server_config(Settings()).http is ProblemHttpToolsProtocol
