"""Keyword data files (`en.yaml`, `he.yaml`); loaded by `probes.vocab`."""
