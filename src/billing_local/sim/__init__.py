"""`billing simulate`: a scenario run day by day through the whole pipeline on the embedded AWS.

- `simulate`: the day loop (`Simulation`);
- `stack`: the deployed stack as the simulator drives and reads it (schedules, passing time, stores);
- `recovery`: what an operator does after an incident; `invariants`: the chaos contract;
- `workload`: generated scenarios (`--agreements N --days D`); `chaos`: the faults of `--chaos SEED`;
- `report`, `html_report`: what `make run` prints and the HTML page it writes.
"""
