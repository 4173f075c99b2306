"""The typer app: every command of the command line, its options and its help.

The plain `meshgen validate FILE...` does not come here: entry.py runs it without typer, since
pre-commit runs it on every commit. Both print through report.py and exit through
report.exit_with: 0 fine; 1 the spec has errors or the output is stale; 2 usage; 3 internal
error (a bug); 130 interrupted. Modules only some commands need are imported inside them.

The app and its shared options are in app.py; `build` in build.py; kubeconform
(`check-output`, `build --validate`) in kubeconform.py; the other commands in commands.py.
"""

from __future__ import annotations

import os
import sys

import typer

from meshgen.cli import build, commands, kubeconform
from meshgen.cli.app import app
from meshgen.report import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from meshgen.report import exit_with as _exit_with

# The commands, in the order --help lists them.
app.command()(build.build)
app.command()(commands.validate)
app.command()(commands.plan)
app.command()(commands.explain)
app.command("check-output")(kubeconform.check_output)
app.command()(commands.schema)
app.command()(commands.init)


def main() -> None:
    """The typer app under the exit contract of report.exit_with."""
    debug = "--debug" in sys.argv or os.environ.get("MESHGEN_DEBUG") == "1"
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    _exit_with(_run_app, debug=debug)


def _run_app() -> int:
    try:
        # Without standalone mode click returns the exit code instead of calling exit.
        code = app(standalone_mode=False, prog_name="meshgen")
    except typer.Abort:  # click's word for an interrupt (and for EOF at a prompt)
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:
        # Usage errors: bad option, missing argument, unknown command; without the
        # validation library's prefix ("Value error, 'xml' is not one of ...").
        message = getattr(exc, "message", None)
        if isinstance(message, str):
            exc.message = message.replace("Value error, ", "")
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        exit_code: int = getattr(exc, "exit_code", EXIT_USAGE)
        return exit_code
    return code if isinstance(code, int) else EXIT_OK
