"""The app and the CLI never download anything; this keeps a library from even preparing to.

pydicom imports `requests`, when it is installed, for fetching its own example files from the internet, and
`urllib3` (under requests) opens a loopback socket when imported, to probe for IPv6. Neither is a dependency of this
app, but an environment with other tools (Ray for `ran-screen --cluster` needs requests) has them. Marked missing
before anything imports them, they cannot be imported here at all: pydicom then runs as it does without them.
"""

from __future__ import annotations

import sys

NETWORK_LIBRARIES = ("requests", "urllib3")


def forbid_network_libraries() -> None:
    """Make `import requests` / `import urllib3` fail in this process (ImportError), unless already imported."""
    for name in NETWORK_LIBRARIES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None in sys.modules: "not importable"
