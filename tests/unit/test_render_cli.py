"""`billing render`: every document of a scenario as a page on disk, or one stored document of a
deployed stack through its DocumentPageFunction; mistakes are one line and exit 2."""

import io
import json
from pathlib import Path
from typing import Any

import pytest
from page_reader import check_figures, parse

from billing_local.cli import main
from billing_local.preview import load_scenario, preview

SCENARIO = "tests/fixtures/scenarios/worked_example.json"


def test_a_scenario_renders_one_page_per_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--scenario", SCENARIO, "--out", str(tmp_path / "pages")]) == 0
    listing = json.loads(capsys.readouterr().out)["pages"]
    documents = preview(load_scenario(SCENARIO))["documents"]
    assert [p["number"] for p in listing] == [d["number"] for d in documents]
    for entry, document in zip(listing, documents, strict=True):
        path = Path(entry["path"])
        assert path.name == f"{document['number']}.html"
        check_figures(path.read_text(encoding="utf-8"), document)


def test_the_issuer_can_be_given_for_local_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["render", "--scenario", SCENARIO, "--out", str(tmp_path), "--issuer-name", "Acme & Sons"]
    assert main([*argv, "--issuer-address", "Via Roma 1|00100 Roma", "--issuer-tax-id", "IT01234567890"]) == 0
    page = Path(json.loads(capsys.readouterr().out)["pages"][0]["path"]).read_text(encoding="utf-8")
    tree = parse(page)
    assert tree.one(cls="issuer-name").text() == "Acme & Sons"
    assert tree.one("address").text() == "Via Roma 100100 Roma"  # two lines (a <br> between)
    assert tree.one(cls="tax-id").text() == "Tax ID IT01234567890"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", "--scenario", "missing.json", "--out", "x"], "missing.json: no such file"),
        (["render", "--scenario", SCENARIO], "--scenario needs --out DIR"),
        (["render", "--stack", "recurring-billing-dev"], "--stack needs the document id and --agreement"),
        (["render", "--scenario", SCENARIO, "--out", "README.md"], "README.md: not a directory"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


class _Clients:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.invokes: list[tuple[Any, dict[str, Any]]] = []

    def __call__(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        clients = self

        class Client:
            def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
                name = f"{StackName}-{LogicalResourceId.removesuffix('Function')}"
                return {"StackResourceDetail": {"PhysicalResourceId": name}}

            def invoke(self, **kwargs: Any) -> dict[str, Any]:
                clients.invokes.append((config, kwargs))
                return {"Payload": io.BytesIO(json.dumps(clients.answer).encode())}

        return Client()


def test_a_stored_document_is_fetched_from_the_stack_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    clients = _Clients({"html": "<!DOCTYPE html>\n<p>page</p>\n", "number": "INV-1", "kind": "invoice"})
    monkeypatch.setattr(boto3, "client", clients)
    out = tmp_path / "page.html"
    argv = [
        "render",
        "--stack",
        "st",
        "--agreement",
        "agr-1",
        "doc_1",
        "--customer",
        "cus-1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert out.read_text(encoding="utf-8") == "<!DOCTYPE html>\n<p>page</p>\n"
    assert json.loads(capsys.readouterr().out)["number"] == "INV-1"
    [(config, kwargs)] = clients.invokes
    assert kwargs["FunctionName"] == "st-DocumentPage"
    assert json.loads(kwargs["Payload"]) == {
        "agreement_id": "agr-1",
        "document_id": "doc_1",
        "customer_id": "cus-1",
    }
    assert config.retries == {"total_max_attempts": 1} and config.read_timeout > 10


def test_a_missing_document_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    monkeypatch.setattr(boto3, "client", _Clients({"error": "not_found", "message": "no document doc_1"}))
    assert main(["render", "--stack", "st", "--agreement", "agr-1", "doc_1"]) == 2
    assert capsys.readouterr().err == "billing: error: not_found: no document doc_1\n"
