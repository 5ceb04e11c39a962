"""The case families; each module registers its cases with :mod:`conformance.catalog`."""
