"""The local toolkit: CLI, embedded AWS, simulator, bench (never shipped to Lambda)."""

import os

# The queue drains (accounting export, DLQ redrive) long-poll on AWS. moto answers a long poll on an
# empty queue by sleeping for it, and on moto a short poll sees every message: local runs drain with
# short polls (the drains still stop only after several empty answers in a row).
os.environ.setdefault("RECEIVE_WAIT_SECONDS", "0")
