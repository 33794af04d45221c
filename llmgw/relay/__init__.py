"""The hot path: one client request in, one upstream call (with retries) out, the answer relayed back,
the usage recorded. Nothing here imports the CLI, the server package, the keyring or the portal
(import contracts)."""
