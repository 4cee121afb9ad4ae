"""Every command in README.md's shell blocks, run verbatim from the project's root.

A command either runs here (and must exit 0) or is listed in NOT_RUNNABLE_HERE with the reason;
those are printed as a warning in the test run's summary, never skipped silently. A new README
command that is neither fails the inventory test.

"Run the stack locally" is one session: its `billing up` is started in the background, the
section's other commands then run in order in one shell (its exports hold for the next ones), and
the server is stopped with SIGINT, which must end it cleanly. Only the port changes: 4566 becomes
a free one, so two runs of the suite on one machine never meet.
"""

import os
import re
import signal
import socket
import subprocess
import warnings

import pytest
from support import ROOT

LOCAL_STACK_SECTION = "Run the stack locally"

# Command prefix -> why it cannot run on this machine.
NOT_RUNNABLE_HERE = {
    "make test": "it is the suite running this test (CI runs it)",
    "sam build && sam local invoke": "sam local needs Docker; `billing invoke` is the Docker-free path",
    "aws ssm put-parameter": "writes to a real AWS account",
    "billing doctor --stack": "checks a real AWS account (test_doctor.py runs it on the embedded AWS)",
    "sam build": "`make test` runs it (make sam-build)",
    "sam deploy": "deploys to a real AWS account",
    "TOPIC=$(aws cloudformation": "needs a deployed stack",
    "aws sns publish": "publishes to a deployed stack's topic",
    "billing redrive --stack": "invokes a deployed stack's function",
    "billing events query --stack": "invokes a deployed stack's function",
    "billing replay --stack": "invokes a deployed stack's function",
    "billing render --stack": "invokes a deployed stack's function",
    "aws lambda invoke": "invokes a deployed stack's function",
}
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def readme_commands(section: str | None = None) -> list[str]:
    """The commands of README's shell blocks, of one `## section` only when given."""
    text = (ROOT / "README.md").read_text()
    if section is not None:
        text = _section(text, section)
    commands: list[str] = []
    for match in FENCE.finditer(text):
        if match.group(2) not in ("bash", "sh"):
            continue
        text = re.sub(r"\\\n\s*", " ", match.group(3))  # line continuations
        for line in text.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def _reason(command: str) -> str | None:
    for prefix, reason in NOT_RUNNABLE_HERE.items():
        if command.removeprefix(".venv/bin/").startswith(prefix):
            return reason
    return None


LOCAL_STACK = readme_commands(LOCAL_STACK_SECTION)
RUNNABLE = [c for c in readme_commands() if _reason(c) is None and c not in LOCAL_STACK]


def test_every_readme_command_runs_here_or_says_why_not() -> None:
    commands = readme_commands()
    assert len(RUNNABLE) >= 5, RUNNABLE
    listed = [c for c in commands if _reason(c) is not None]
    stale = [
        p for p in NOT_RUNNABLE_HERE if not any(c.removeprefix(".venv/bin/").startswith(p) for c in listed)
    ]
    assert not stale, f"NOT_RUNNABLE_HERE names commands README no longer has: {stale}"
    warnings.warn(
        "README commands not runnable here:\n" + "\n".join(f"  {c}  <- {_reason(c)}" for c in listed),
        UserWarning,
        stacklevel=1,
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_command_runs_verbatim(command: str) -> None:
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_the_local_stack_section_runs_verbatim_as_one_session() -> None:
    [up] = [c for c in LOCAL_STACK if c.removeprefix(".venv/bin/").startswith("billing up ")]
    assert "--port 4566" in up and len(LOCAL_STACK) >= 8
    port = _free_port()

    def local(command: str) -> str:
        return command.replace("--port 4566", f"--port {port}").replace("127.0.0.1:4566", f"127.0.0.1:{port}")

    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    server = subprocess.Popen(
        ["bash", "-c", "exec " + local(up)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().startswith("export AWS_ENDPOINT_URL="), "billing up did not start"
        session = "set -euo pipefail\n" + "\n".join(local(c) for c in LOCAL_STACK if c != up)
        done = subprocess.run(
            ["bash", "-c", session], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=280
        )
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "billing.invoice.issued" in done.stdout and "exports/2026/01/31/" in done.stdout
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=30)
    assert code == 0
