#!/usr/bin/env bash
# Chains the experiment configs (conf/experiment/) whose runs made the shipped checkpoints; docs/checkpoints.md
# maps every file in checkpoints/ to its config, command and stage here.
# Usage: scripts/train_shipped.sh STAGE...   (in the order below; each stage trains and exports its files)
#   hdr         sandwich_hdr_stage1, then sandwich_hdr_ft per λ           -> sandwich_hdr/lambda_*.pt
#   hdr_light   sandwich_hdr_light per λ, side by side                   -> sandwich_hdr_light/lambda_*.pt
#   sr_light    sandwich_sr_light per λ, side by side                     -> unshipped/sr_light/ (the start of sr_light_more)
#   sr_light_more  sandwich_sr_light_more per λ from sr_light's files    -> sandwich_sr_light/lambda_*.pt
#   sr          sandwich_sr_stage1, sandwich_sr_stage1b, sandwich_sr_ft1b per λ   (the SR lineage's start)
#   sr_1c       sandwich_sr_stage1c (from sr's λ = 50 file), then sandwich_sr_ft1c per λ
#   sr_crop256  sandwich_sr_crop256 per λ     sr_jitter   sandwich_sr_jitter (λ = 400, 150, 50)
#   sr_shaped   sandwich_sr_shaped per λ      sr_post2    sandwich_sr_post2 per λ   -> sandwich_sr/lambda_20.pt
#   sr_gpu      sandwich_sr_gpu_joint, two pairs side by side on one GPU (scripts/gpu/) -> sandwich_sr/lambda_50.pt
#   sr_cpu      sandwich_sr_cpu_joint          -> sandwich_sr/lambda_{1000,400,150}.pt
#   sr_tables   sandwich_sr_tilt               -> sandwich_sr/lambda_1000_tilt4.pt, lambda_400_tilt2.pt
#   post_only   post_only_{hdr,sr}_shipped     dequant   dequant_shipped
#   han         han_first, han_pp_first        han_more  han_more, han_pp_more, han_pp_more2 -> han.pt
# A stage that went on from earlier shipped files starts from them as committed then (git show
# COMMIT:checkpoints/PATH into logs/init/COMMIT/PATH, the bytes the original runs started from; a file already
# there is used as it is), or, with CHAIN=1, from what the earlier stage of this script wrote to OUT.
# Exports go to OUT (default logs/shipped; files no later stage ships under OUT/unshipped/); OUT=checkpoints
# replaces the shipped files, whose SHA-256 bitstreams carry. Runs go to logs/train/<name>/...; a stage
# refuses to train into a run folder that has checkpoints. SKIP_STAGE1=1 (hdr, sr, sr_1c): only the fine-tunes.
# DRY_RUN=1 prints the commands (and each run folder) without running them.
# Each run is a plain `python -m sandwich.train experiment=<config> [overrides]`: the configs hold the recipes.
set -euo pipefail
cd "$(dirname "$0")/.."
export SANDWICH_DATA="${SANDWICH_DATA:-../shared/data}" WANDB_MODE="${WANDB_MODE:-offline}"
PY=${PY:-.venv/bin/python}
OUT=${OUT:-logs/shipped}
RUNS=logs/train   # ${runs_root} of conf/train.yaml

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0" >&2; exit 2; }

committed() {  # COMMIT PATH (under checkpoints/) -> the start file's path
  if [[ -n ${CHAIN:-} ]]; then echo "$OUT/$2"; return; fi
  local file=logs/init/$1/$2
  if [[ ! -s $file && -z ${DRY_RUN:-} ]]; then
    mkdir -p "$(dirname "$file")"
    git show "$1:checkpoints/$2" > "$file.tmp" && mv "$file.tmp" "$file"
  fi
  echo "$file"
}

fresh() {  # RUN_DIR: Lightning would version last.ckpt in a folder that has checkpoints
  [[ ! -e $1/checkpoints ]] || { echo "$1 already has checkpoints: move it aside first" >&2; exit 1; }
}

run() {  # OUT_FILE|- RUN_DIR START|- EXPERIMENT OVERRIDES...: train, then export RUN_DIR's last.ckpt to OUT/OUT_FILE
  local out=$1 dir=$2 start=$3 experiment=$4 stage1=()
  shift 4
  [[ $start == - ]] || { set -- "$@" "init_from=$start"; stage1=(--stage1 "$start"); }
  if [[ -n ${DRY_RUN:-} ]]; then  # print the commands only
    echo "$PY -m sandwich.train experiment=$experiment $*   # -> $dir"
    [[ $out == - ]] || echo "$PY -m sandwich.export $dir/checkpoints/last.ckpt $OUT/$out ${stage1[*]}"
    return
  fi
  fresh "$dir"
  $PY -m sandwich.train "experiment=$experiment" "$@"
  [[ $out == - ]] && return
  mkdir -p "$(dirname "$OUT/$out")"
  $PY -m sandwich.export "$dir/checkpoints/last.ckpt" "$OUT/$out" "${stage1[@]}"
}

side_by_side() {  # "run arguments"...: in the background, one log each under OUT/logs; fails if any failed
  local spec job failed=0
  [[ -n ${DRY_RUN:-} ]] || mkdir -p "$OUT/logs"
  for spec in "$@"; do
    set -- $spec
    if [[ -n ${DRY_RUN:-} ]]; then run "$@"; continue; fi
    run "$@" > "$OUT/logs/$(basename "$(dirname "$2")")_$(basename "$2").log" 2>&1 &
  done
  for job in $(jobs -p); do wait "$job" || failed=$((failed + 1)); done
  (( failed == 0 )) || { echo "$failed runs failed: see $OUT/logs/" >&2; exit 1; }
}

step() { printf 'checkpoints/step%06d.ckpt' "$1"; }

stage() {
  local l d f t s start
  case $1 in
    hdr)
      local stage1=$RUNS/sandwich_hdr_ycc/lmbda_200000.0
      [[ -n ${SKIP_STAGE1:-} ]] || run - $stage1 - sandwich_hdr_stage1
      for spec in "1500000.0 8.0 1.5e6" "600000.0 5.0 6e5" "200000.0 3.0 2e5" "50000.0 1.5 5e4"; do
        read -r l d f <<< "$spec"
        run sandwich_hdr/lambda_$f.pt $RUNS/sandwich_hdr_ycc_ft/lmbda_$l $stage1/$(step 3000) sandwich_hdr_ft \
          model.lmbda=$l model.net.step_init=$d
      done ;;
    hdr_light)  # the three λ from scratch, side by side (one thread each, conf/experiment/sandwich_hdr_light.yaml)
      local dir=$RUNS/sandwich_hdr_light
      side_by_side \
        "sandwich_hdr_light/lambda_1.5e6.pt $dir/lmbda_1500000.0 - sandwich_hdr_light model.lmbda=1500000.0 model.net.step_init=8.0" \
        "sandwich_hdr_light/lambda_2e5.pt $dir/lmbda_200000.0 - sandwich_hdr_light model.lmbda=200000.0 model.net.step_init=3.0" \
        "sandwich_hdr_light/lambda_5e4.pt $dir/lmbda_50000.0 - sandwich_hdr_light model.lmbda=50000.0 model.net.step_init=1.5" ;;
    sr_light)  # the two λ from scratch on all of sr/train, side by side (conf/experiment/sandwich_sr_light.yaml)
      local dir=$RUNS/sandwich_sr_light
      side_by_side \
        "unshipped/sr_light/lambda_400.pt $dir/lmbda_400.0 - sandwich_sr_light model.lmbda=400.0 model.net.step_init=15.0" \
        "unshipped/sr_light/lambda_50.pt $dir/lmbda_50.0 - sandwich_sr_light model.lmbda=50.0 model.net.step_init=6.5" ;;
    sr_light_more)  # sr_light's files trained on, Δ restarting where they ended (sandwich_sr_light_more.yaml)
      local dir=$RUNS/sandwich_sr_light_more from400 from50
      if [[ -n ${CHAIN:-} ]]; then
        from400=$OUT/unshipped/sr_light/lambda_400.pt from50=$OUT/unshipped/sr_light/lambda_50.pt
      else  # sr_light's exports as committed (a1b23c4 shipped them as sandwich_sr_light/)
        from400=$(committed a1b23c4 sandwich_sr_light/lambda_400.pt) from50=$(committed a1b23c4 sandwich_sr_light/lambda_50.pt)
      fi
      side_by_side \
        "sandwich_sr_light/lambda_400.pt $dir/lmbda_400.0 $from400 sandwich_sr_light_more model.lmbda=400.0 model.net.step_init=13.7" \
        "sandwich_sr_light/lambda_50.pt $dir/lmbda_50.0 $from50 sandwich_sr_light_more model.lmbda=50.0 model.net.step_init=3.9" ;;
    sr | sr_1c)
      local from name=sandwich_sr_ft2 experiment=sandwich_sr_ft1c
      if [[ $1 == sr ]]; then
        from=$RUNS/sandwich_sr_long/lmbda_50.0/$(step 2000) name=sandwich_sr_ft experiment=sandwich_sr_ft1b
        if [[ -z ${SKIP_STAGE1:-} ]]; then
          run - $RUNS/sandwich_sr/lmbda_50.0 - sandwich_sr_stage1
          run - $RUNS/sandwich_sr_long/lmbda_50.0 $RUNS/sandwich_sr/lmbda_50.0/$(step 2500) sandwich_sr_stage1b
        fi
      else
        from=$RUNS/sandwich_sr_long2/lmbda_50.0/$(step 7000)
        [[ -n ${SKIP_STAGE1:-} ]] || run - $RUNS/sandwich_sr_long2/lmbda_50.0 \
          "$(committed a7fcb10 sandwich_sr/lambda_50.pt)" sandwich_sr_stage1c
      fi
      for spec in "400 20.0" "150 14.0" "50 10.0" "20 6.0"; do
        read -r l d <<< "$spec"
        run sandwich_sr/lambda_$l.pt $RUNS/$name/lmbda_$l.0 $from $experiment model.lmbda=$l.0 model.net.step_init=$d
      done ;;
    sr_crop256)  # λ = 400: the first 500 steps of its 600-step run (lr drop at step 480), which is the shipped file
      for spec in "400 20.0 model.lr_drop=0.96 trainer.val_check_interval=200" "150 12.0" "50 8.0" "20 4.5"; do
        read -r l d t <<< "$spec"
        run sandwich_sr/lambda_$l.pt $RUNS/sandwich_sr_crop256/lmbda_$l.0 "$(committed 5a9aae9 sandwich_sr/lambda_$l.pt)" \
          sandwich_sr_crop256 model.lmbda=$l.0 model.net.step_init=$d $t
      done ;;
    sr_jitter)  # λ = 20 keeps its sr_crop256 file
      for spec in "400 19.27" "150 11.55" "50 6.97"; do
        read -r l d <<< "$spec"
        run sandwich_sr/lambda_$l.pt $RUNS/sr_jitter/lmbda_$l.0 "$(committed 66835ac sandwich_sr/lambda_$l.pt)" \
          sandwich_sr_jitter model.lmbda=$l.0 model.net.step_init=$d
      done ;;
    sr_shaped | sr_post2)
      local commit=e30fbf5 experiment=sandwich_sr_shaped name=sr_shaped
      [[ $1 == sr_shaped ]] || commit=124f2d8 experiment=sandwich_sr_post2 name=sr_post2
      for spec in "400 18.96" "150 11.22" "50 6.56" "20 4.50"; do
        read -r l d <<< "$spec"
        run sandwich_sr/lambda_$l.pt $RUNS/$name/lmbda_$l.0 "$(committed $commit sandwich_sr/lambda_$l.pt)" \
          $experiment model.lmbda=$l.0 model.net.step_init=$d
      done ;;
    sr_gpu)  # wall-clock budgets: the step counts depend on the machine and on the runs beside each other
      local seven=trainer.max_time=00:00:07:00 short=trainer.max_time=00:00:02:30 dir=$RUNS/sr_gpu_joint
      local from400 from150 from50
      from400=$(committed 5e8dd17 sandwich_sr/lambda_400.pt)
      from150=$(committed 5e8dd17 sandwich_sr/lambda_150.pt)
      from50=$(committed 5e8dd17 sandwich_sr/lambda_50.pt)
      side_by_side \
        "sandwich_sr/lambda_400.pt $dir/lmbda_400.0 $from400 sandwich_sr_gpu_joint model.lmbda=400.0 model.net.step_init=18.96 $seven" \
        "sandwich_sr/lambda_1000.pt $dir/lmbda_1000.0 $from400 sandwich_sr_gpu_joint model.lmbda=1000.0 model.net.step_init=34.0 $seven"
      side_by_side \
        "unshipped/sr_gpu/lambda_150.pt $dir/lmbda_150.0 $from150 sandwich_sr_gpu_joint model.lmbda=150.0 model.net.step_init=11.22 $short" \
        "sandwich_sr/lambda_50.pt $dir/lmbda_50.0 $from50 sandwich_sr_gpu_joint model.lmbda=50.0 model.net.step_init=6.56 $short" ;;
    sr_cpu)  # λ = 150 starts from sr_gpu's (never committed) λ = 150 export; λ = 1000 runs twice
      run unshipped/sr_cpu/lambda_1000.pt $RUNS/sr_cpu/lmbda_1000.0 "$(committed 7e6e9bc sandwich_sr/lambda_1000.pt)" \
        sandwich_sr_cpu_joint model.lmbda=1000.0 model.net.step_init=28.19
      run sandwich_sr/lambda_150.pt $RUNS/sr_cpu/lmbda_150.0 "${SR_CPU_150_START:-$OUT/unshipped/sr_gpu/lambda_150.pt}" \
        sandwich_sr_cpu_joint model.lmbda=150.0 model.net.step_init=8.48
      run sandwich_sr/lambda_1000.pt $RUNS/sr_cpu2/lmbda_1000.0 "$OUT/unshipped/sr_cpu/lambda_1000.pt" \
        sandwich_sr_cpu_joint name=sr_cpu2 model.lmbda=1000.0 model.net.step_init=27.65
      run sandwich_sr/lambda_400.pt $RUNS/sr_cpu/lmbda_400.0 "$(committed 7e6e9bc sandwich_sr/lambda_400.pt)" \
        sandwich_sr_cpu_joint model.lmbda=400.0 model.net.step_init=15.01 ;;
    sr_tables)
      for spec in "1000 27.26 4" "400 14.83 2"; do
        read -r l d t <<< "$spec"
        run sandwich_sr/lambda_${l}_tilt$t.pt $RUNS/sr_post_tilt/lmbda_$l.0 "$(committed 3aa01fd sandwich_sr/lambda_$l.pt)" \
          sandwich_sr_tilt model.lmbda=$l.0 model.net.step_init=$d model.net.tilt=$t.0
      done ;;
    post_only)
      run post_only_hdr.pt $RUNS/post_only_hdr/lmbda_200000.0 - post_only_hdr_shipped
      run post_only_sr.pt $RUNS/post_only_sr/lmbda_200000.0 - post_only_sr_shipped ;;
    dequant)
      run dequant.pt $RUNS/dequant_logmse - dequant_shipped ;;
    han)
      run - $RUNS/han - han_first
      run han.pt $RUNS/han_pp $RUNS/han/$(step 600) han_pp_first ;;
    han_more)
      run - $RUNS/han_more "$(committed b3e6209 han.pt)" han_more
      run - $RUNS/han_pp_more $RUNS/han_more/checkpoints/last.ckpt han_pp_more
      run han.pt $RUNS/han_pp_more2 $RUNS/han_pp_more/checkpoints/last.ckpt han_pp_more2 ;;
    *) echo "unknown stage $1" >&2; usage ;;
  esac
}

(( $# )) || usage
for name in "$@"; do stage "$name"; done
