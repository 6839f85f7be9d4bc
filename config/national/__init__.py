"""The national organisation tree (generated; see generate.py)."""
