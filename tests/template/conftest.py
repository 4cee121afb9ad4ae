"""Fixtures for the template rules: template.yaml loaded, expanded and SAM-translated once per worker.

The rules and the render helper live next to this file (template_rules.py, template_render.py);
with pytest's importlib import mode, sibling modules are importable only from a sys.path entry,
so this folder is put on it. The translation is this folder's own (template_render.translate)
rather than the embedded AWS's loader, so a bug in one cannot hide a bug in the other.
"""

import copy
import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import template_render


@pytest.fixture(scope="session")
def raw_template() -> dict[str, Any]:
    """template.yaml as written (Fn::ForEach loops, SAM resources)."""
    return template_render.load()


@pytest.fixture(scope="session")
def _rendered_once() -> dict[str, Any]:
    return template_render.render()


@pytest.fixture
def rendered(_rendered_once: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the rendered template (tests may break it)."""
    return copy.deepcopy(_rendered_once)


@pytest.fixture(scope="session")
def rendered_prod() -> dict[str, Any]:
    return template_render.render(parameters={"Stage": "prod"})
