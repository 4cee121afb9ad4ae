"""`billing simulate`: a scenario run day by day through the whole pipeline on the embedded AWS.

- `simulate`: the day loop (`Simulation`), reading the stores back, recovery and the invariants;
- `workload`: generated scenarios (`--agreements N --days D`);
- `chaos`: the faults of `--chaos SEED`;
- `report`, `html_report`: what `make run` prints and the HTML page it writes.
"""
