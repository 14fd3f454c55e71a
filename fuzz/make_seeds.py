"""Write a seed corpus for each fuzz target: the valid originals of tests/corpus.py.

``python fuzz/make_seeds.py DIR`` makes ``DIR/<loader>/`` holding the files that loader reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import corpus

_SEEDS = {
    "store": ["der", "pem", "p7b", "p7b-pem", "p12", "jks", "jceks"],
    "pem": ["pem"],
    "der": ["der"],
    "pkcs7": ["p7b", "p7b-pem"],
    "pkcs12": ["p12", "p12-key"],
    "jks": ["jks", "jceks", "jks-key"],
    "key": ["key-pem", "key-pem-encrypted", "key-der"],
}
_RECIPE = b'[trust]\nenvironments = ["int"]\n[[targets]]\nformat = "pem"\npath = "out/t.pem"\n'


def main(directory: Path) -> None:
    """Write every seed under ``directory``."""
    originals = corpus.make_originals()
    for loader, names in _SEEDS.items():
        target = directory / loader
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            (target / name).write_bytes(originals.files[name])
    (directory / "recipe").mkdir(parents=True, exist_ok=True)
    (directory / "recipe" / "recipe.toml").write_bytes(_RECIPE)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
