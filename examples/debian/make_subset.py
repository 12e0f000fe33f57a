"""How examples/debian/ was made: a subset of the shared Debian-package embeddings (62,666 packages,
all-MiniLM-L6-v2, 384-d, float16; ../../../shared/data, outside the repository) — ten sections a person
recognises, up to a fixed number of packages each, in the set's order, and a few featured packages. Run from the repository root:

    python examples/debian/make_subset.py [/path/to/shared/data]
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np

SECTIONS = {"python": 700, "science": 450, "sound": 350, "graphics": 350, "editors": 150, "games": 350,
            "electronics": 190, "video": 200, "math": 150, "text": 250}  # fmt: skip
# and these, whatever their section: the demo's queries start from them
FEATURED = {"python3-numpy", "python3-scipy", "python3-pandas", "vim", "nano", "octave", "gimp", "audacity",
            "inkscape", "kicad", "emacs", "ardour", "blender", "ffmpeg", "vlc", "gnuplot"}  # fmt: skip
HERE = Path(__file__).resolve().parent


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent.parent / "shared" / "data")
    vectors = np.load(src / "debian_minilm384.f16.npy", mmap_mode="r")
    taken, rows, picked = dict.fromkeys(SECTIONS, 0), [], []
    with gzip.open(src / "debian_minilm384.meta.jsonl.gz", "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            section = row["metadata"]["section"]
            featured = row["id"] in FEATURED
            if featured or (section in SECTIONS and taken[section] < SECTIONS[section]):
                if not featured:
                    taken[section] += 1
                rows.append(row)
                picked.append(i)
    np.save(HERE / "packages.f16.npy", np.ascontiguousarray(vectors[picked], dtype=np.float16))
    with gzip.GzipFile(HERE / "packages.jsonl.gz", "wb", mtime=0) as out:
        out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    print(f"{len(rows)} packages: {taken}")


if __name__ == "__main__":
    main()
