"""`orderstream contracts`: the event contracts in `contracts/` (JSON Schemas, AsyncAPI,
recorded examples), written and checked."""
