"""The running server, assembled above the relay: the ASGI app (`app.py`: routes, middleware, the portal
at /ui, the lifespan), the background loops over the gateway (`loops.py`) and the hypercorn listeners
(`listeners.py`). Only the CLI imports it (`llmgw serve`; a contract in pyproject.toml)."""
