"""Stream relays: upstream SSE bytes in, the client's SSE bytes out, usage read on the way. Pure."""
