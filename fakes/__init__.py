"""Fakes of the programs the reference implementation talks to (ZFS, dataset mappings)."""
