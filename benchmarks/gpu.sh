#!/usr/bin/env bash
# benchmarks/gpu.sh: the GPU figures, in one call of the device tool of under 8 minutes.
#
# A lent GPU machine has torch but neither this project's other packages nor Fashion-MNIST, and
# nothing can be downloaded there; so, here first, right before the call (it also notes the commit):
#     make gpu-carry                 # fills .gpu/ (git ignores it): wheels of py4j and optuna, the data
# then, through the device tool:   command "bash benchmarks/gpu.sh", carry [".gpu"], timeout_s 540.
# Try it on this CPU first, so that the first GPU call is the real one (about 35 s):
#     GPU_DEVICE=cpu GPU_QUICK=1 OUT=/tmp/gpu-out PYTHON=.venv/bin/python bash benchmarks/gpu.sh
#
# Each part runs in a time box of its own and writes its file under $OUT as it ends; a part that fails
# or runs out of time says so in its file, and the next one runs:
#   env.txt      the date, the commit, the machine, the GPU and driver, python, torch and CUDA
#   tests.txt    pytest -m cuda tests/test_cuda.py (skipped, with the reason, where there is no CUDA)
#   trainer.txt  python -m nas_pattern.bench trainer: ours (from CUDA graphs) against the plain PyTorch
#                loop, with --deterministic and eager beside each of ours (what each costs); then a new
#                child of the default search, built, trained and validated, eager and graphed; then
#                bench retraining: python -m nas_pattern.train's checkpoint and validation pass after
#                each epoch, as shares of an epoch (fast on a GPU: are they still small?)
#   search.txt   python -m nas_pattern.bench search --executors local: children per minute with K = 1,
#                2, 4 and 8 children at once (no Ray there)
#   default-log.txt, default.txt  the default search (python -m nas_pattern.run --device D): its output;
#                its search time, children, children per minute, median child; default-run.tar.gz: its record
# GPU_DEVICE (cuda) is the device; GPU_QUICK=1 shrinks every part to a few seconds of work.
set -u -o pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the figures (the device tool sets it)}"
mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}
DEVICE=${GPU_DEVICE:-cuda}
QUICK=${GPU_QUICK:-0}
CARRY=.gpu
DATA=/usr/share/datasets/fashion-mnist
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

fail() { echo "gpu.sh: $*" | tee -a "$OUT/env.txt" >&2; exit 1; }

# What the image lacks: the wheels carried in .gpu/wheels, installed apart (never over its torch).
if ! "$PYTHON" -c "import py4j, optuna" 2>/dev/null; then
    ls "$CARRY"/wheels/*.whl >/dev/null 2>&1 || fail "py4j or optuna is missing and $CARRY/wheels has no wheels: run make gpu-carry here and carry $CARRY"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu-site \
        "$CARRY"/wheels/*.whl || fail "the carried wheels did not install"
    export PYTHONPATH="$PYTHONPATH:/tmp/gpu-site"
fi
# Fashion-MNIST where the engine looks for it (Debian's place): the machine is a bare one of our own.
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
    ls "$CARRY"/fashion-mnist/*.gz >/dev/null 2>&1 || fail "no Fashion-MNIST in $DATA or $CARRY/fashion-mnist: run make gpu-carry here and carry $CARRY"
    mkdir -p "$DATA" && cp "$CARRY"/fashion-mnist/*.gz "$DATA"/ || fail "cannot copy Fashion-MNIST to $DATA"
fi

{
    echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit      $(git describe --always --dirty 2>/dev/null || cat "$CARRY/commit" 2>/dev/null || echo unknown)"
    echo "machine     $(nproc) CPUs, $(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}')"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
        | sed 's/^/gpu         /'
    "$PYTHON" -c "import sys, torch; print('python     ', sys.version.split()[0]); print('torch      ', torch.__version__,
'CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version(), 'sees', torch.cuda.device_count(), 'GPU(s)')"
    echo "device      $DEVICE$([ "$QUICK" = 1 ] && echo ', quick: every part shrunk to a few seconds of work')"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# part FILE SECONDS COMMAND...: run COMMAND in a time box (SIGTERM, which a search takes as Ctrl-C and
# keeps its record; SIGKILL 20 s later), its output into $OUT/FILE, and how it ended on the last line.
part() {
    local file=$1 box=$2 start rc
    shift 2
    echo "== $file: $* (time box ${box} s)"
    start=$(date +%s%N)
    timeout -k 20 "$box" "$@" >"$OUT/$file" 2>&1
    rc=$?
    local seconds=$(( ($(date +%s%N) - start) / 1000000 ))
    seconds=$((seconds / 1000)).$(printf %03d $((seconds % 1000)))
    case $rc in
        0) echo "# done in ${seconds} s" ;;
        124|137) echo "# stopped by its time box of ${box} s (rc $rc), after ${seconds} s: what is above is what it finished" ;;
        *) echo "# FAILED: rc $rc after ${seconds} s" ;;
    esac >>"$OUT/$file"
    tail -n 3 "$OUT/$file"
    return 0
}

if [ "$QUICK" = 1 ]; then
    TRAINER=(--train-limit 200 --test-limit 500 --rounds 1) SEARCH=(--children 2 --train-limit 64) DEFAULT=(--episodes 2 --train-limit 200)
else
    TRAINER=() SEARCH=(--children 16) DEFAULT=()  # 24 children: k = 8 did not fit the box on an H200
fi
BENCH=("$PYTHON" -m nas_pattern.bench --device "$DEVICE")
part tests.txt 120 "$PYTHON" -m pytest -q -rs -p no:cacheprovider -m cuda tests/test_cuda.py
part trainer.txt 130 "${BENCH[@]}" trainer retraining "${TRAINER[@]}"  # trainer alone: 54 s on an H200
part search.txt 100 "${BENCH[@]}" search --executors local "${SEARCH[@]}"  # the image has no Ray

SCRATCH=$(mktemp -d)  # the default search's run directory, gone when the script ends (its record is in $OUT)
trap 'rm -rf "$SCRATCH"' EXIT
RUN_DIR=$SCRATCH/default-run
part default-log.txt 100 "$PYTHON" -m nas_pattern.run --device "$DEVICE" --run-dir "$RUN_DIR" "${DEFAULT[@]}"
"$PYTHON" - "$RUN_DIR" "$OUT/default-log.txt" >"$OUT/default.txt" 2>&1 <<'EOF'
"""The default search's figures from its record (episodes.jsonl; summary.json once it finished)."""
import json, statistics, sys
from pathlib import Path

run_dir, log = Path(sys.argv[1]), Path(sys.argv[2])
config = json.loads((run_dir / "config.json").read_text())["config"]
episodes = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
trained = [e for e in episodes if e["status"] == "ok" and not e["cached"]]
summary = run_dir / "summary.json"
# a stopped search has no summary: then the children's own seconds, without the controller's
seconds = json.loads(summary.read_text())["seconds"] if summary.exists() else sum(e["seconds"] for e in episodes)
print(f"default search on {config['device']}: {config['search']['episodes']} children asked for, "
      f"batch {config['train']['batch_size']}, precision {config['train']['precision']}, "
      f"{config['search']['train_limit'] or 'all'} training images per child")
print(f"finished: {'yes' if summary.exists() else 'no (stopped by its time box)'}; "
      f"{len(episodes)} children in {seconds:.1f} s of search ({len(episodes) / seconds * 60:.1f} children/min)")
if trained:
    print(f"median child {statistics.median(e['seconds'] for e in trained):.2f} s "
          f"(training {statistics.median(e['metrics']['train_seconds'] for e in trained):.2f} s), "
          f"best validation accuracy {max(e['metrics']['accuracy'] for e in trained):.4f}")
print(log.read_text().splitlines()[-1])
EOF
tail -n 4 "$OUT/default.txt"
tar -czf "$OUT/default-run.tar.gz" -C "$(dirname "$RUN_DIR")" "$(basename "$RUN_DIR")" 2>/dev/null
echo "== figures in $OUT: $(ls "$OUT" | tr '\n' ' ')"
