"""The engine every process app shares (docs/architecture.md)."""
