"""Embedded AWS: stands template.yaml up on moto, in-process, and drives the real handlers."""
