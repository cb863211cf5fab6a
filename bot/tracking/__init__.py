"""Polling Bland for everything in flight: the scheduler, the tick, and one module per kind."""
