"""Tandem's database backends: Django's own, plus a hook right before COMMIT that
appends the audit journal's queued entries (workflow.db.journal)."""
