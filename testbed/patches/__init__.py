"""Patches that make moto 5.2.5 behave as AWS documents; one module per AWS service.

Each public module has an `apply()` that monkeypatches moto's backend or response
classes, and a docstring citing the AWS behaviour it restores. Modules starting with an
underscore are helpers, not patches.
"""
