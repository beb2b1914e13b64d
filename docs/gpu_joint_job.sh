#!/usr/bin/env bash
# The GPU job behind the joint network's card (issue 16), one command end to end:
#   1. export training data on every core (`drivestack dataset`, one shard per core: the navigation
#      worlds with the detector card's recipe, and the straight town / highway);
#   2. train three joint networks at once on the GPU (`drivestack train joint`, each with a wall-clock
#      budget): yolov8n warm-started from the shipped detector and HydraNet's heads, the same with the
#      camera effects, and a half-width backbone from random weights (the CPU frame-rate candidate);
#   3. measure on the GPU (`drivestack bench perception` / `bench loop --device cuda`, fp16 networks);
#   4. leave the weights, the runs' metrics, TensorBoard logs and configs and the benchmarks in $OUT.
# The held-out evaluations (`eval perception` on seeds 20000-20019 and 10000-10009) and the CPU
# benchmarks are run afterwards on the 2-core CPU the targets are set for.
#
# Usage, from the repository root:  OUT=/tmp/gpu SCALE=full bash docs/gpu_joint_job.sh
#   SCALE=tiny: a rehearsal of every step in about two minutes on a CPU.
#   FINETUNE=runs/x/best.pt: the second job instead: new shards (other seeds, half the scenes), one run
#   fine-tuning that joint network on them (joint-n-ft), no benchmarks.
#   Python packages the GPU image lacks travel as wheels in .whl/ (installed into /tmp/site; ignored by git, name it
#   in the device tool's carry). On 2026-12-04 the image (Python 3.12, torch 2.11) lacked these, fetched here with
#   `pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
#   --platform manylinux_2_17_x86_64 --platform manylinux1_x86_64 -d .whl ultralytics==8.4.190 ultralytics-thop==2.2.3
#   gymnasium==1.4.0 farama-notifications==0.0.6 stable-baselines3==2.9.2 lap==0.5.13` (3.7 MB).
set -uo pipefail
OUT=${OUT:?set OUT to the folder for the results}
SCALE=${SCALE:-full}
PY=${PY:-python3}
RUNS=${RUNS:-runs/gpu}
T0=$(date +%s)
log() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
export PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false
mkdir -p "$OUT" "$RUNS"

if [ -z "${NO_WHEELS:-}" ] && ls .whl/*.whl >/dev/null 2>&1; then  # NO_WHEELS=1: use the installed packages
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
$PY -c "import torch, drivestack.cli, perception.train_joint, sim.dataset, ultralytics; \
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU', 'cores', __import__('os').cpu_count())" || exit 4
ds() { $PY -m drivestack "$@"; }

CORES=$(nproc)
if [ "$SCALE" = full ]; then
    NAV_SHARDS=$(( CORES * 2 / 3 )); STR_SHARDS=$(( CORES - 1 - NAV_SHARDS ))
    NAV_SCENES=${NAV_SCENES:-50}; STR_SCENES=${STR_SCENES:-60}; FRAMES=20; EXPORT_S=150
    DEVICE=cuda; WORKERS=$(( (CORES - 3) / 3 )); BATCH=64; TRAIN_MIN=${TRAIN_MIN:-4.5}; BENCH_S=3
else
    NAV_SHARDS=2; STR_SHARDS=1; NAV_SCENES=3; STR_SCENES=4; FRAMES=4; EXPORT_S=120
    DEVICE=cpu; WORKERS=0; BATCH=4; TRAIN_MIN=${TRAIN_MIN:-0.3}; BENCH_S=0.5
fi
[ "$STR_SHARDS" -ge 1 ] || STR_SHARDS=1
FINETUNE=${FINETUNE:-}
NAV_SEED=61000; STR_SEED=51000
if [ -n "$FINETUNE" ]; then
    NAV_SEED=62000; STR_SEED=52000; NAV_SCENES=$(( (NAV_SCENES + 1) / 2 )); STR_SCENES=$(( (STR_SCENES + 1) / 2 ))
    WORKERS=$(( CORES - 2 ))
fi

# 1. data: shards in parallel, each a complete export (a shard cut off by the time limit is left out)
log "export: $NAV_SHARDS navigation shards x $NAV_SCENES scenes, $STR_SHARDS straight shards x $STR_SCENES scenes, $FRAMES frames each"
for k in $(seq 0 $(( NAV_SHARDS - 1 ))); do
    timeout "$EXPORT_S" $PY -m drivestack dataset --out "$RUNS/data/nav-$k" --scenes $NAV_SCENES --frames-per-scene $FRAMES \
        --seed $(( NAV_SEED + k )) --kinds townnav,townnav,highwaynav --every 20 --boost cyclist --quiet > "$RUNS/data-nav-$k.log" 2>&1 &
done
for k in $(seq 0 $(( STR_SHARDS - 1 ))); do
    timeout "$EXPORT_S" $PY -m drivestack dataset --out "$RUNS/data/straight-$k" --scenes $STR_SCENES --frames-per-scene $FRAMES \
        --seed $(( STR_SEED + k )) --kinds town,highway --every 10 --quiet > "$RUNS/data-straight-$k.log" 2>&1 &
done
wait
DATA=""
for d in "$RUNS"/data/*; do
    if [ -f "$d/data.yaml" ]; then
        # the first export names the val split every export is validated on: one with val scenes goes first
        if [ -z "$DATA" ] || ! ls "$d"/gt/val/*.jsonl >/dev/null 2>&1; then DATA="${DATA:+$DATA,}$d"; else DATA="$d,$DATA"; fi
    else
        log "left out (not finished in ${EXPORT_S} s): $d"
    fi
done
[ -n "$DATA" ] || { log "no export finished"; tail -5 "$RUNS"/data-*.log; exit 5; }
$PY - "$DATA" <<'EOF'
import json, sys
counts = {}
for d in sys.argv[1].split(","):
    for split, c in json.load(open(f"{d}/dataset.json"))["counts"].items():
        counts[split] = counts.get(split, 0) + c["frames"]
print("frames per split:", counts)
EOF
log "export done"

# 2. three runs at once on the GPU, each within TRAIN_MIN minutes
train() {  # name, then --set overrides
    local name=$1; shift
    # val_frames: added after the 2026-12-04 run, which validated on all 1,780 val frames each epoch (a large
    # share of its ~31 s epochs); 0 there keeps every frame
    ds train joint --data "$DATA" --out "$RUNS/$name" --device $DEVICE --quiet --set batch=$BATCH --set workers=$WORKERS \
        --set time_min=$TRAIN_MIN --set val_frames=${VAL_FRAMES:-600} "$@" > "$RUNS/train-$name.log" 2>&1
    log "train $name: exit $?"
}
HYD=perception/models/hydranet.pt
if [ -n "$FINETUNE" ]; then
    NAMES="joint-n-ft"
    train joint-n-ft --set epochs=60 --set lr=5e-4 --set init_from="$FINETUNE"
else
    NAMES="joint-n joint-n-cam joint-p"
    train joint-n --set epochs=60 --set lr=1e-3 --set init_hydranet=$HYD &
    train joint-n-cam --set epochs=60 --set lr=1e-3 --set init_hydranet=$HYD --set augment_camera=true &
    train joint-p --set epochs=120 --set lr=2e-3 --set 'init_detector=""' --set model.width=0.125 &
    wait
fi
for name in $NAMES; do
    tail -3 "$RUNS/train-$name.log"
    [ -f "$RUNS/$name/best.pt" ] && cp "$RUNS/$name/best.pt" "$OUT/$name.pt"
done
log "training done"

# 3. on the GPU: the pair and the joint networks (fp16 networks, whole stack, closed loop)
if [ -f "$RUNS/joint-n/best.pt" ] && [ -z "$FINETUNE" ]; then
    timeout 120 $PY -m drivestack bench perception --device $DEVICE --joint "$RUNS/joint-n/best.pt" --seconds $BENCH_S --json \
        > "$OUT/bench_perception.json" 2> "$RUNS/bench-perception.log" || log "bench perception failed: $(tail -2 "$RUNS/bench-perception.log")"
    timeout 90 $PY -m drivestack bench loop --device $DEVICE --joint "$RUNS/joint-n/best.pt" --seconds $BENCH_S --processes 1 \
        --train-steps 64 --json > "$OUT/bench_loop.json" 2> "$RUNS/bench-loop.log" || log "bench loop failed: $(tail -2 "$RUNS/bench-loop.log")"
fi
if [ -f "$RUNS/joint-p/best.pt" ] && [ -z "$FINETUNE" ]; then
    timeout 60 $PY - "$RUNS/joint-p/best.pt" $DEVICE > "$OUT/bench_joint_p.json" <<'EOF'
import json, sys
from drivestack.bench_gpu import gpu_network_figures
from perception.joint import JointNet
dev = sys.argv[2]
print(json.dumps(gpu_network_figures({"joint-p": JointNet.load(sys.argv[1])}, (160, 320), 30, device=dev, half=dev == "cuda")))
EOF
fi
log "benchmarks done"

# 4. everything else small in one archive (2 folders deep at most come back)
tar czf "$OUT/runs.tar.gz" --exclude='*.pt' --exclude='images' --exclude='masks' --exclude='depth' --exclude='labels' \
    --exclude='gt' "$RUNS" 2>/dev/null
ls -la "$OUT"
log "done"
