"""Command-line interface: a consumer of the public API only."""
