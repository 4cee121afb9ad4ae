"""`make bench` (`python -m billing_local.bench`): cost and throughput, measured.

Prints a table and writes `.bench/results.json`. docs/PERFORMANCE.md explains every figure;
in short:

- A `billing simulate` workload (generated agreements, monthly and daily plans among the
  others, amendments and cancellations, every payment method `pm_ok`) runs through the whole
  pipeline on the embedded AWS. Every AWS request a handler makes is counted by service and
  operation (the runtime's botocore hook), plus what Lambda's pollers would make; DynamoDB
  request units are computed from the items each request reads or writes (sizes taken from
  the emulated tables before and after each write, GSI updates included); every handler
  invocation is timed. Divided by the invoices that were paid.
- Cold imports: each handler module imported in a fresh interpreter, alternating with a
  fresh `import boto3`; the ratio of the medians.
- The built shared layer's unzipped size, and the pure engine's throughput.

Nothing here asserts anything about time: the bench reports, tests/unit/test_bench.py checks
the arithmetic.

- `costs` (with `prices`): item sizes, request units, cost, the floor: pure arithmetic;
- `meter`: what handlers do on the embedded AWS (the one observer of their AWS calls);
- `runs`: the pipeline run, measured; `cold_start`: cold imports and the built layer;
- `report`: the per-invoice figures, goals and tables; `__main__`: the command.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT_DIR = ROOT / ".bench"
