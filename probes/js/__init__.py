"""Page scripts run by the probe (loaded as text by `probes.scripts`)."""
