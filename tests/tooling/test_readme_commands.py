"""Every command in README.md's shell blocks, run verbatim from the project's root.

A command either runs here (and must exit 0) or is listed in NOT_RUNNABLE_HERE with the reason;
those are printed as a warning in the test run's summary, never skipped silently. A new README
command that is neither fails the inventory test.
"""

import re
import subprocess
import warnings

import pytest
from support import ROOT

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


def readme_commands() -> list[str]:
    commands: list[str] = []
    for match in FENCE.finditer((ROOT / "README.md").read_text()):
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


RUNNABLE = [c for c in readme_commands() if _reason(c) is None]


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
