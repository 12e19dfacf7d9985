"""Put first on ``PYTHONPATH`` by ``ryft-instrument --sitecustomize``, for installs whose ``.pth`` files are not
processed: starts the zero-code bootstrap, then runs the application's own ``sitecustomize`` (if any) as though
this one were not there. OpenTelemetry's launcher hides the user's ``sitecustomize`` (PRIOR_ART 30); we must not.
"""

from __future__ import annotations

import os
import sys


def _start() -> None:
    try:
        from ryft_instrument import bootstrap
    except ImportError as exc:
        sys.stderr.write("ryft-instrument: not importable by %s (%s); running uninstrumented\n" % (sys.executable, exc))
        return
    bootstrap.start()


def _chain() -> None:
    """Import the next ``sitecustomize`` on the path under the same name, as ``site`` would have without us.
    Its errors reach ``site``, which reports them exactly as it would have."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    this = sys.modules.pop(__name__)
    try:
        import sitecustomize  # noqa: F401 - the application's own
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
        # The import running this file reads its module back from sys.modules when the file ends.
        sys.modules[__name__] = this


_start()
_chain()
