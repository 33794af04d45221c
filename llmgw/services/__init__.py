"""The use cases the CLI, the web portal and the terminal admin call: every rule, no SQL here, no HTTP."""
