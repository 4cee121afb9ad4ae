"""The project's template rules, as cfn-lint custom rules (ids E9xxx), by concern.

    cfn-lint --append-rules cfn_lint_serverless.rules \
             --append-rules src/billing_local/cfn/rules -- template.yaml

cfn-lint imports every module of this folder by file name and instantiates each class that
subclasses ``cfnlint.rules.CloudFormationLintRule``: those live in wiring.py (E90xx), observability.py
(E91xx), security.py (E92xx) and deploy.py (E93xx). ``model.py`` (template queries) and
``lint.py`` (the adapter from a check to cfn-lint matches) hold no rule classes.

Each rule wraps a check ``check(template) -> list[str]`` over the rendered template (Fn::ForEach
expanded, SAM translated by billing_local.cfn): these are the checks cfn-lint and checkov do not make.
"""
