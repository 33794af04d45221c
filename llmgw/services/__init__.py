"""The use cases the CLI (and later the web portal and the TUI) call: no SQL here, no HTTP."""
