"""Renders and lints the chart with the real Helm library (PyPI helm-python-sdk, Helm v4).

Reads {"chart", "values", "name", "namespace"} as JSON on stdin and prints
{"lint", "schema_error", "manifests"} as JSON. The Rust tests in
controller/tests/chart.rs drive it and check what comes out.
"""
import json
import sys

import helm_python as helm

req = json.load(sys.stdin)
chart = helm.Chart.load(req["chart"])
schema_error = None
try:
    chart.validate_schema(req["values"])
except helm.HelmError as e:  # the message is what a user would see
    schema_error = str(e)
out = {"lint": helm.lint(req["chart"], req["values"], strict=True, namespace=req["namespace"]),
       "schema_error": schema_error, "manifests": {}}
if schema_error is None:
    out["manifests"] = chart.render(req["values"], name=req["name"], namespace=req["namespace"], is_install=True)
json.dump(out, sys.stdout)
