"""Vendor Swagger UI into the REST face's static files, so /docs needs no CDN.

Run from the repository root when changing the pinned version:

    .venv/bin/python scripts/vendor_swagger_ui.py

It fetches the pinned ``swagger-ui-dist`` tarball from the npm registry,
refuses it unless its SHA-512 is the pinned one (the registry's own
``dist.integrity``), writes the few files /docs needs into
``src/jumbe/faces/rest/static/swagger-ui/`` and records the version, licence
and each file's SHA-256 in ``src/jumbe/faces/rest/static/VENDORED.md``. The
written files are committed; nothing is downloaded at run time or by tests.
To move to another version, set VERSION and INTEGRITY from
``npm view swagger-ui-dist@<version> dist.integrity`` and run it again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "swagger-ui-dist"
VERSION = "5.35.0"
INTEGRITY = (
    "sha512-"
    "U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="
)
TARBALL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
# what /docs loads, and the licence that must travel with it
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE")
STATIC = Path(__file__).resolve().parent.parent / "src" / "jumbe" / "faces" / "rest" / "static"
TARGET = STATIC / "swagger-ui"


def fetch() -> bytes:
    with urllib.request.urlopen(TARBALL, timeout=60) as answer:
        data: bytes = answer.read()
    algorithm, _, expected = INTEGRITY.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        sys.exit(f"{TARBALL}: {algorithm} is {actual}, pinned {expected}: refusing it")
    return data


def extract(tarball: bytes) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in FILES:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                sys.exit(f"{name} is not in {TARBALL}")
            found[name] = member.read()
    return found


def record(files: dict[str, bytes]) -> str:
    rows = "\n".join(
        f"| `swagger-ui/{name}` | `{hashlib.sha256(content).hexdigest()}` |"
        for name, content in sorted(files.items())
    )
    return f"""# Vendored files

## Swagger UI (`swagger-ui/`)

- Package: `{PACKAGE}` {VERSION}, from the npm registry
  (`{TARBALL}`, integrity `{INTEGRITY}`)
- Licence: Apache-2.0 (`swagger-ui/LICENSE`, with its `NOTICE`)
- Why: `/docs` serves these files itself, so the API documentation works offline
  and loads nothing from a CDN.
- Written by `scripts/vendor_swagger_ui.py` (run it to change the version); not
  edited by hand. `tests/integration/test_docs_offline.py` checks these digests.

| file | sha256 |
| --- | --- |
{rows}
"""


def main() -> None:
    files = extract(fetch())
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (TARGET / name).write_bytes(content)
    (STATIC / "VENDORED.md").write_text(record(files))
    print(f"{PACKAGE} {VERSION}: wrote {', '.join(sorted(files))} to {TARGET}")


if __name__ == "__main__":
    main()
