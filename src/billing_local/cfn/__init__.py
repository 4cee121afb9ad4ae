"""One template pipeline: load, type parameters, expand language extensions, SAM-translate, resolve.

Used by the embedded AWS (``billing_local.emulator``), the template rules (``rules/``, run by
cfn-lint), the checkov render (``python -m billing_local.cfn.render``) and the contracts generator.

* :mod:`.loader` -- YAML with CloudFormation short-form tags;
* :mod:`.parameters` -- parameter values (defaults, overrides, samconfig), typed as CloudFormation does;
* :mod:`.language_extensions` -- ``AWS::LanguageExtensions`` (``Fn::ForEach`` & co.);
* :mod:`.sam` -- the one local-CodeUri rewrite and the offline SAM transform;
* :mod:`.intrinsics` -- the intrinsic resolver (``Ref``, ``Fn::Sub``, conditions, mappings...);
* :mod:`.references` -- the reference walker (which logical ids a value depends on);
* :mod:`.render` -- template.yaml as CloudFormation deploys it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
