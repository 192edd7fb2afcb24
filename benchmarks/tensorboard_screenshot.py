"""The guide's TensorBoard screenshot: two searches in one --logdir, as TensorBoard shows them.

    python -m nas_pattern.run --seed 0 --run-dir runs/compare/reinforce
    python -m nas_pattern.run --seed 0 --agent random --run-dir runs/compare/random
    .venv/bin/python benchmarks/tensorboard_screenshot.py runs/compare benchmarks/tensorboard.png

It starts `tensorboard --logdir LOGDIR` and opens its scalars dashboard in headless Chromium (the
tests' helpers, tests/helpers.py), showing the runs of the searches (not their children's
sessions) and the tags the comparison is about, then saves the page as a PNG.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import chromium, page_text, tensorboard  # noqa: E402

TAGS = "search/best_accuracy|child/accuracy|policy/entropy|policy/moved"
RUNS = "tensorboard$"  # the searches' runs; their children's hparams sessions are the runs below them


def main(logdir: Path, out: Path) -> None:
    with tensorboard(logdir) as url, chromium("1500,1150") as browser:
        browser.get(f"{url}/#scalars&tagFilter={TAGS.replace('|', '%7C')}&_smoothingWeight=0&regexInput={RUNS.replace('$', '%24')}")
        deadline = time.monotonic() + 90
        while not all(tag in page_text(browser) for tag in TAGS.split("|")):
            if time.monotonic() > deadline:
                raise SystemExit(f"TensorBoard did not show {TAGS} for {logdir}")
            time.sleep(1)
        time.sleep(3)  # the charts' lines are drawn after their titles
        browser.save_screenshot(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
