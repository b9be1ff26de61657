"""Studies that reproduce the seed papers' claims (regenerated on demand, not in the test run)."""
