"""Every SQL statement llmgw runs: the database, its migrations, the ledger writer thread, request rows.

The seam for a PostgreSQL store later: callers see only this package's public names."""
