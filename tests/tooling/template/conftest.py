"""Fixtures for the template tests: template.yaml loaded, and rendered once per worker.

The rendering is billing_local.cfn's (the one the embedded AWS, cfn-lint's custom rules and
checkov's input use): Fn::ForEach expanded, SAM translated.
"""

import copy
import os
from typing import Any

import pytest

from billing_local.cfn import render

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def raw_template() -> dict[str, Any]:
    """template.yaml as written (Fn::ForEach loops, SAM resources)."""
    return render.load()


@pytest.fixture(scope="session")
def _rendered_once() -> dict[str, Any]:
    return render.render()


@pytest.fixture
def rendered(_rendered_once: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the rendered template (tests may break it)."""
    return copy.deepcopy(_rendered_once)


@pytest.fixture(scope="session")
def rendered_prod() -> dict[str, Any]:
    return render.render(parameters={"Stage": "prod"})
