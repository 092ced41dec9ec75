"""Run moto's server with the test bed's patches applied.

`scripts/testbed` starts this instead of `moto_server`, with the same arguments
(`-H 127.0.0.1 -p PORT`). Every module in `patches/` restores, for one AWS service, a
behaviour that AWS documents and moto 5.2.5 does not have (see testbed/README.md).
Product code never special-cases the emulator: these patches are where it is made faithful.
"""

import importlib
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import moto  # noqa: E402

# The patches replace moto internals by name; on another version they may silently
# patch nothing, or the wrong thing, so refuse to start rather than emulate wrongly.
PATCHED_MOTO_VERSION = "5.2.5"


def apply_patches() -> list[str]:
    import patches

    applied = []
    for module_info in sorted(pkgutil.iter_modules(patches.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        importlib.import_module(f"patches.{module_info.name}").apply()
        applied.append(module_info.name)
    return applied


def main() -> None:
    if moto.__version__ != PATCHED_MOTO_VERSION:
        sys.exit(
            f"moto_patched: the patches are written for moto {PATCHED_MOTO_VERSION}, "
            f"found {moto.__version__}; update testbed/requirements.txt or the patches"
        )
    applied = apply_patches()
    print(f"moto {moto.__version__}, patched: {', '.join(applied)}", file=sys.stderr, flush=True)

    # The body of the `moto_server` console script (moto/server.py).
    from moto.server import main as moto_server

    moto_server(sys.argv[1:])


if __name__ == "__main__":
    main()
