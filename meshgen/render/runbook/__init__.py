"""The runbook (out/README.md) as data: steps of prose and shell commands, rendered to
Markdown by `markdown.py`. The tests that execute the runbook read the same data."""
