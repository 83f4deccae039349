"""A check for schemathesis's run of tests/interop/schemathesis.toml, stricter than its own
`positive_data_acceptance` where this API's 422 says more than its status.

The API answers 422 for two reasons: the request breaks the OpenAPI document
(`/problems/invalid-request`, with where and why), or it breaks a rule no JSON Schema can
say (`rule-violated`: the same SKU twice in an order; `idempotency-key-reused`: a key sent
again with another request). The toml lets schema-valid data get a 422, for the second
reason; this check fails the run when one gets it for the first.
"""

import schemathesis


@schemathesis.check
def schema_valid_data_is_never_called_invalid(ctx, response, case):
    """Data generated as valid against the document is not refused as breaking it."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    problem = response.json()
    if problem.get("type") == "/problems/invalid-request":
        raise AssertionError(f"Valid data refused as breaking the document: {problem['detail']}")
    return None
