"""Time `billing up`: startup (to serving), and `billing clock advance 1d` over a day that bills
N agreements (default 300), published through the server with plain boto3 as upstream would.

    .venv/bin/python scripts/local_stack_timing.py [--agreements 300] [--starts 3]

Prints JSON. The figures go in docs/PERFORMANCE.md ("The local stack"); no test asserts them.
"""

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BILLING_DAY = "2026-03-01"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(port: int) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    began = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - this venv's billing, fixed arguments
        [str(BIN / "billing"), "up", "--port", str(port), "--start", "2026-02-28T00:00:00Z", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    return process, info, time.perf_counter() - began


def stop(process: subprocess.Popen[str]) -> float:
    began = time.perf_counter()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    return time.perf_counter() - began


def agreements(n: int) -> list[dict[str, Any]]:
    """The simulator's mix of plans, currencies, zones and payment methods, all starting on one day."""
    sys.path.insert(0, str(ROOT / "src"))
    from billing_local.sim.workload import generate

    events = [d["event"] for d in generate(n, 1)["deliveries"] if d["event"]["type"] == "agreement.created"]
    for event in events:
        event["data"]["start_date"] = BILLING_DAY
    return events


def clock(endpoint: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - this venv's billing, fixed arguments
        [str(BIN / "billing"), "clock", *args, "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=300)
    parser.add_argument("--starts", type=int, default=3, help="startups to time (the first may be cold)")
    args = parser.parse_args()

    startups, stops = [], []
    for _ in range(args.starts):
        process, info, seconds = start(free_port())
        startups.append({"wall_s": round(seconds, 2), "in_process_s": info["startup_seconds"]})
        stops.append(round(stop(process), 2))

    process, info, _ = start(free_port())
    try:
        endpoint = info["endpoint"]
        sns = boto3.client(
            "sns",
            endpoint_url=endpoint,
            region_name=info["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - the server takes any credentials
        )
        events = agreements(args.agreements)
        began = time.perf_counter()
        for event in events:
            sns.publish(TopicArn=info["outputs"]["AgreementTopicArn"], Message=json.dumps(event))
        published = time.perf_counter() - began
        clock(endpoint, "advance", "--to", f"{BILLING_DAY}T00:00:00Z")  # ingestion settled
        began = time.perf_counter()
        report = clock(endpoint, "advance", "1d")
        advanced = time.perf_counter() - began
    finally:
        stop(process)
    print(
        json.dumps(
            {
                "startups": startups,
                "startup_median_wall_s": statistics.median(s["wall_s"] for s in startups),
                "stop_s": stops,
                "agreements": len(events),
                "publish_s": round(published, 2),
                "clock_advance_1d_s": round(advanced, 2),
                "advance_report": report,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
