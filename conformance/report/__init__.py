"""Reports of a catalog run: console (progress, per-section table, failures), JSON, HTML."""
