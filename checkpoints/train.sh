#!/usr/bin/env bash
# The exact commands that produced the shipped checkpoints (CPU, 2 cores, see README.md here).
# Usage: bash checkpoints/train.sh {hdr|sr|sr_1c|sr_crop256|sr_jitter|sr_shaped|sr_post2|sr_gpu|sr_gpu2|sr_cpu|sr_tables|post_only|dequant|han|han_more}   (chains ran side by side)
# SR: `sr` (sessions 2 and 4) made the files committed at SESSION4; session 5's run folders were
# gone, so `sr_1c` went on from those files and made today's. HDR: `hdr` (session 5).
# SKIP_STAGE1=1 runs only the fine-tunes from an existing stage-1 checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
export SANDWICH_DATA="${SANDWICH_DATA:-../shared/data}" WANDB_MODE="${WANDB_MODE:-offline}"
PY=${PY:-.venv/bin/python}
COMMON="threads=1 data.crop=128 trainer.enable_progress_bar=false"
STAGE1_STEPS=2500   # SR stage 1 (session 2): lr 5e-4 without a drop
declare -A LONG_STEPS=([sr]=2000)  # SR stage 1b (session 4): the same λ continued (Δ restarts), lr 5e-4, no drop
declare -A FT_STEPS=([hdr]=1000 [sr]=500)  # stage 2: every λ (the stage-1 λ too) from stage 1, lr 2e-4 -> 2e-5 at 80%
SESSION4=a7fcb10    # the commit whose shipped files session 5 continued from
SR_1C_STEPS=7000   # stage 1c (session 5): SR λ=50 continued from the session-4 λ=50 file, lr 5e-4, no drop
HDR_STEPS=3000  # HDR stage 1 (session 5): λ=2e5 from scratch with colour_skip=ycbcr, lr 5e-4, no drop
SESSION5=5a9aae9    # the commit whose shipped SR files session 6 fine-tuned on 256² crops (sr_crop256)
SESSION6=66835ac    # the commit whose shipped SR files session 7 fine-tuned with step jitter (sr_jitter)
SESSION7=e30fbf5    # the commit whose shipped SR files session 8 fine-tuned through shaped tables (sr_shaped)
SESSION10=124f2d8   # the commit whose shipped SR files (session 8's) session 11 fine-tuned further (sr_post2)
SESSION12=7e6e9bc   # the commit whose shipped SR files (session 12's GPU runs) sessions 12 and 13 went on from on the CPU (sr_cpu)
SESSION13=3aa01fd   # the commit whose shipped SR files (session 13's) session 14 retrained through steeper tables (sr_tables)
SESSION11=5e8dd17   # the commit whose shipped SR files (session 11's) session 12 trained on a GPU (sr_gpu)
HAN_SESSION4=b3e6209  # the commit of the han.pt that session 6 continued from (han_more)

committed_file() {  # commit path-in-checkpoints/ -> a copy of that file as committed then
  local out=logs/init/$1/$2
  mkdir -p "$(dirname "$out")" && git show "$1:checkpoints/$2" > "$out" && echo "$out"
}
session4_file() { committed_file $SESSION4 "$1"; }

stage1() {  # task lmbda step_init
  $PY -m sandwich.train experiment=sandwich_$1 $COMMON model.lmbda=$2 model.net.step_init=$3 model.lr=5e-4 \
    trainer.max_steps=$STAGE1_STEPS model.lr_drop=2.0 ckpt_path=${RESUME:-null}
  $PY -m sandwich.train experiment=sandwich_$1 name=sandwich_$1_long $COMMON model.lmbda=$2 model.net.step_init=$3 \
    model.lr=5e-4 trainer.max_steps=${LONG_STEPS[$1]} model.lr_drop=2.0 \
    init_from=logs/train/sandwich_$1/lmbda_$2/checkpoints/step$(printf %06d $STAGE1_STEPS).ckpt
}

fresh() {  # refuse to train into a run folder that has checkpoints (Lightning would version last.ckpt)
  [[ ! -e $1/checkpoints ]] || { echo "$1 already has checkpoints: move it aside first" >&2; exit 1; }
}

finetune() {  # task stage1_lmbda lmbda step_init file_lmbda   (START: the checkpoint fine-tuned from; FT_NAME: the runs' name)
  local start=${START:-logs/train/sandwich_$1_long/lmbda_$2/checkpoints/step$(printf %06d ${LONG_STEPS[$1]}).ckpt}
  local name=${FT_NAME:-sandwich_$1_ft}
  fresh logs/train/$name/lmbda_$3
  $PY -m sandwich.train experiment=sandwich_$1 name=$name $COMMON model.lmbda=$3 model.net.step_init=$4 \
    model.lr=2e-4 trainer.max_steps=${FT_STEPS[$1]} trainer.val_check_interval=250 init_from=$start
  $PY -m sandwich.export logs/train/$name/lmbda_$3/checkpoints/last.ckpt \
    checkpoints/sandwich_$1/lambda_$5.pt --stage1 $start
}

shaped_post() {  # run_name start_commit "schedule overrides" λ:Δ[:tilt] ...   (post-processor only, shaped tables, 256², jitter)
  # tilt 1 writes lambda_<λ>.pt; another tilt (chroma stays 1.5) writes lambda_<λ>_tilt<tilt>.pt beside it
  local name=$1 commit=$2 schedule=$3 spec lmbda delta tilt start
  shift 3
  for spec in "$@"; do
    IFS=: read -r lmbda delta tilt <<< "$spec"
    start=$(committed_file $commit sandwich_sr/lambda_$lmbda.pt)
    fresh logs/train/$name/lmbda_$lmbda.0
    $PY -m sandwich.train experiment=sandwich_sr name=$name ${COMMON/data.crop=128/data.crop=256} \
      model.lmbda=$lmbda.0 model.net.step_init=$delta model.step_jitter=2.0 model.net.tilt=${tilt:-1}.0 model.net.chroma=1.5 model.freeze_pre=true \
      $schedule init_from=$start
    $PY -m sandwich.export logs/train/$name/lmbda_$lmbda.0/checkpoints/last.ckpt \
      checkpoints/sandwich_sr/lambda_$lmbda${tilt:+_tilt$tilt}.pt --stage1 $start
  done
}

gpu_run() {  # out name lmbda step_init start_lmbda overrides...   (one GPU run for a wall-clock budget, from session 11's file)
  local out=$1 name=$2 lmbda=$3 delta=$4 start=${SR_GPU_INIT_DIR:-}
  start=${start:+$start/lambda_$5.pt}  # SR_GPU_INIT_DIR: a folder holding those files (a machine without git history)
  start=${start:-$(committed_file $SESSION11 sandwich_sr/lambda_$5.pt)}
  shift 5
  fresh logs/train/$name/lmbda_$lmbda
  # batch 16 of 256², shaped tables, step jitter 2; lr ×0.1 at 80 % of trainer.max_time
  $PY -m sandwich.train experiment=sandwich_sr name=$name trainer=${SR_GPU_TRAINER:-gpu} threads=3 logger=csv \
    data.crop=256 data.batch_size=${SR_GPU_BATCH:-16} trainer.enable_progress_bar=false trainer.max_steps=1000000 \
    +trainer.max_time=${SR_GPU_TIME:-00:00:07:00} trainer.val_check_interval=${SR_GPU_VAL:-1000} \
    callbacks.checkpoint.every_n_train_steps=2000 model.lmbda=$lmbda model.net.step_init=$delta \
    model.step_jitter=2.0 model.net.tilt=1.0 model.net.chroma=1.5 "$@" init_from=$start
  $PY -m sandwich.export logs/train/$name/lmbda_$lmbda/checkpoints/last.ckpt "$out/${name}_$lmbda.pt" --stage1 $start
}

cpu_joint() {  # name start lmbda step_init out   (pre + post + Δ on the CPU: 1000 steps of batch 8 on 256², lr 1e-4,
  # ×0.1 at step 800, rate surrogate on the unquantized coefficients, shaped tables, step jitter 2)
  local name=$1 start=$2 lmbda=$3 delta=$4 out=$5
  fresh logs/train/$name/lmbda_$lmbda
  $PY -m sandwich.train experiment=sandwich_sr name=$name ${COMMON/data.crop=128/data.crop=256} model.lmbda=$lmbda \
    model.net.step_init=$delta model.step_jitter=2.0 model.net.tilt=1.0 model.net.chroma=1.5 model.net.rate_input=unquantized \
    model.lr=1e-4 trainer.max_steps=1000 trainer.val_check_interval=500 init_from=$start
  $PY -m sandwich.export logs/train/$name/lmbda_$lmbda/checkpoints/last.ckpt $out --stage1 $start
}

gpu_runs() {  # "gpu_run arguments" ...   (side by side on the one GPU; logs and exported files in SR_GPU_OUT)
  local out=${SR_GPU_OUT:-logs/sr_gpu} spec failed=0 job
  mkdir -p "$out"
  for spec in "$@"; do
    set -- $spec
    gpu_run "$out" "$@" > "$out/$1_$2.log" 2>&1 &
  done
  for job in $(jobs -p); do wait "$job" || failed=$((failed + 1)); done
  (( failed == 0 )) || { echo "$failed GPU runs failed: see $out/*.log" >&2; exit 1; }
}

case "${1:-}" in
  hdr)  # session 5: colour maps from the YCbCr pair (conf/experiment/sandwich_hdr.yaml), trained from scratch
    stage1=logs/train/sandwich_hdr_ycc/lmbda_200000.0
    if [[ -z ${SKIP_STAGE1:-} ]]; then
      fresh $stage1
      $PY -m sandwich.train experiment=sandwich_hdr name=sandwich_hdr_ycc $COMMON model.lmbda=200000.0 \
        model.net.step_init=6.0 model.lr=5e-4 trainer.max_steps=$HDR_STEPS model.lr_drop=2.0
    fi
    export START=$stage1/checkpoints/step$(printf %06d $HDR_STEPS).ckpt FT_NAME=sandwich_hdr_ycc_ft
    # Δ₀ per λ: about where stage 1's λ=2e5 settled (Δ ≈ 2.9), scaled by √λ as the official code's init
    finetune hdr 200000.0 1500000.0 8.0 1.5e6
    finetune hdr 200000.0 600000.0 5.0 6e5
    finetune hdr 200000.0 200000.0 3.0 2e5
    finetune hdr 200000.0 50000.0 1.5 5e4
    ;;
  sr)
    [[ -n ${SKIP_STAGE1:-} ]] || stage1 sr 50.0 10.0
    finetune sr 50.0 400.0 20.0 400
    finetune sr 50.0 150.0 14.0 150
    finetune sr 50.0 50.0 10.0 50
    finetune sr 50.0 20.0 6.0 20
    ;;
  sr_1c)  # session 5: stage 1c, then the per-λ fine-tunes from it
    if [[ -z ${SKIP_STAGE1:-} ]]; then
      fresh logs/train/sandwich_sr_long2/lmbda_50.0
      $PY -m sandwich.train experiment=sandwich_sr name=sandwich_sr_long2 $COMMON model.lmbda=50.0 model.net.step_init=10.0 \
        model.lr=5e-4 trainer.max_steps=$SR_1C_STEPS model.lr_drop=2.0 init_from=$(session4_file sandwich_sr/lambda_50.pt)
    fi
    export START=logs/train/sandwich_sr_long2/lmbda_50.0/checkpoints/step$(printf %06d $SR_1C_STEPS).ckpt FT_NAME=sandwich_sr_ft2
    finetune sr 50.0 400.0 20.0 400
    finetune sr 50.0 150.0 14.0 150
    finetune sr 50.0 50.0 10.0 50
    finetune sr 50.0 20.0 6.0 20
    ;;
  sr_crop256)  # session 6: every session-5 λ file 500 more steps on 256² crops (Δ restarts near its learned value)
    # λ=400 ran first, by hand, with trainer.max_steps=600 val_check_interval=200, and shipped its step000500.ckpt
    # (its last.ckpt then: the final-step save of sandwich.training.callbacks.StepCheckpoint came after it)
    # λ=20 ran last, as SR_CROP256=20:4.5
    for spec in ${SR_CROP256:-400:20.0 150:12.0 50:8.0 20:4.5}; do
      lmbda=${spec%%:*} delta=${spec#*:}
      start=$(committed_file $SESSION5 sandwich_sr/lambda_$lmbda.pt)
      fresh logs/train/sandwich_sr_crop256/lmbda_$lmbda.0
      $PY -m sandwich.train experiment=sandwich_sr name=sandwich_sr_crop256 ${COMMON/data.crop=128/data.crop=256} \
        model.lmbda=$lmbda.0 model.net.step_init=$delta model.lr=2e-4 trainer.max_steps=500 trainer.val_check_interval=250 \
        init_from=$start
      $PY -m sandwich.export logs/train/sandwich_sr_crop256/lmbda_$lmbda.0/checkpoints/last.ckpt \
        checkpoints/sandwich_sr/lambda_$lmbda.pt --stage1 $start
    done
    ;;
  sr_shaped)  # session 8: session-7 λ files, 500 more 256² steps with step jitter, through shaped step tables
    # (model.net.tilt=1.0 model.net.chroma=1.5: coefficient (u,v) at Δ·(1 + (u+v)/14), Cb/Cr 1.5× that; README "Shaped step tables").
    # Only the post-processor trains (model.freeze_pre=true): pre-processor and Δ stay the session-7 file's. Trained jointly,
    # the same 500 steps lost 0.1–1 dB at equal rate even against the flat session-7 files (checkpoints/README.md).
    shaped_post sr_shaped $SESSION7 "model.lr=2e-4 trainer.max_steps=500 trainer.val_check_interval=250" \
      ${SR_SHAPED:-400:18.96 150:11.22 50:6.56 20:4.50}
    ;;
  sr_post2)  # session 11: session 8's λ files, 1000 more post-processor-only steps through the same shaped tables
    # (lr 1e-4, ×0.1 at step 800; pre-processor and Δ frozen, so every bottleneck and rate stays). The runs started
    # from the files in checkpoints/ at commit 124f2d8, which committed_file extracts byte for byte.
    shaped_post sr_post_s11 $SESSION10 "model.lr=1e-4 trainer.max_steps=1000 trainer.val_check_interval=500" \
      ${SR_POST2:-400:18.96 150:11.22 50:6.56 20:4.50}
    ;;
  sr_gpu)  # session 12, on one NVIDIA H200 (a 15-minute lease): four 7-minute runs side by side on the one GPU
    # the post-processor alone (the bottlenecks and rates stay), and pre + post + Δ together with the rate
    # surrogate on the unquantized coefficients (session 9's best joint setting), at λ = 400 and at a lower rate
    gpu_runs "sr_gpu_post 400.0 18.96 400 model.freeze_pre=true model.lr=1e-4" \
      "sr_gpu_post 150.0 11.22 150 model.freeze_pre=true model.lr=1e-4" \
      "sr_gpu_joint 400.0 18.96 400 model.net.rate_input=unquantized model.lr=2e-4" \
      "sr_gpu_joint 1000.0 34.0 400 model.net.rate_input=unquantized model.lr=2e-4"
    ;;
  sr_gpu2)  # session 12, the same lease's last minutes (SR_GPU_TIME=00:00:02:30): the joint setting at λ = 150 and 50
    gpu_runs "sr_gpu_joint 150.0 11.22 150 model.net.rate_input=unquantized model.lr=2e-4" \
      "sr_gpu_joint 50.0 6.56 50 model.net.rate_input=unquantized model.lr=2e-4"
    ;;
  sr_cpu)  # sessions 12–13: the joint setting continued on the CPU from the GPU runs' files, 1000 steps per run
    # (side by side, 1 thread each). λ = 150 starts from sr_gpu2's export (run that first; SR_CPU_150_START).
    mkdir -p logs/sr_cpu
    cpu_joint sr_cpu12 "$(committed_file $SESSION12 sandwich_sr/lambda_1000.pt)" 1000.0 28.19 logs/sr_cpu/lambda_1000_s12.pt & first=$!
    cpu_joint sr_cpu12 "${SR_CPU_150_START:-logs/sr_gpu/sr_gpu_joint_150.0.pt}" 150.0 8.48 checkpoints/sandwich_sr/lambda_150.pt
    wait $first
    cpu_joint sr_cpu13 logs/sr_cpu/lambda_1000_s12.pt 1000.0 27.65 checkpoints/sandwich_sr/lambda_1000.pt & first=$!
    cpu_joint sr_cpu13 "$(committed_file $SESSION12 sandwich_sr/lambda_400.pt)" 400.0 15.01 checkpoints/sandwich_sr/lambda_400.pt
    wait $first
    ;;
  sr_tables)  # session 14: the λ = 1000 and 400 files' post-processors through steeper step tables (tilt 4 and 2),
    # side by side (pre-processor and Δ frozen, so every bottleneck stays): new files beside the tilt-1 ones, which HEIC
    # and the higher rates keep
    schedule="model.lr=1e-4 trainer.max_steps=1000 trainer.val_check_interval=500"
    shaped_post sr_post_tilt4 $SESSION13 "$schedule" 1000:27.26:4 & first=$!
    shaped_post sr_post_tilt2 $SESSION13 "$schedule" 400:14.83:2
    wait $first
    ;;
  sr_jitter)  # session 7: session-6 λ files, 500 more 256² steps, each batch coded at Δ·f, f in [1/2, 2] (the Δ′ sweep)
    for spec in ${SR_JITTER:-400:19.27 150:11.55 50:6.97}; do
      lmbda=${spec%%:*} delta=${spec#*:}
      start=$(committed_file $SESSION6 sandwich_sr/lambda_$lmbda.pt)
      fresh logs/train/sr_jitter/lmbda_$lmbda.0
      $PY -m sandwich.train experiment=sandwich_sr name=sr_jitter ${COMMON/data.crop=128/data.crop=256} \
        model.lmbda=$lmbda.0 model.net.step_init=$delta model.step_jitter=2.0 model.lr=2e-4 trainer.max_steps=500 \
        trainer.val_check_interval=250 init_from=$start
      $PY -m sandwich.export logs/train/sr_jitter/lmbda_$lmbda.0/checkpoints/last.ckpt \
        checkpoints/sandwich_sr/lambda_$lmbda.pt --stage1 $start
    done
    ;;
  post_only)
    declare -A POST_STEPS=([hdr]=1000 [sr]=1500)  # HDR: log MSE (conf/experiment/post_only_hdr.yaml)
    for task in hdr sr; do
      $PY -m sandwich.train experiment=post_only_$task $COMMON model.lr=5e-4 trainer.max_steps=${POST_STEPS[$task]}
      $PY -m sandwich.export logs/train/post_only_$task/lmbda_*/checkpoints/last.ckpt checkpoints/post_only_$task.pt
    done
    ;;
  dequant)  # one Dequantization-Net for JPEG and HEIC inputs (issue 6), log MSE (conf/model/dequant.yaml)
    $PY -m sandwich.train experiment=dequant $COMMON trainer.max_steps=3000
    $PY -m sandwich.export logs/train/dequant/checkpoints/last.ckpt checkpoints/dequant.pt
    ;;
  han)  # Han et al.: autoencoder, then the post-processor on the frozen autoencoder (issue 5)
    # shipped: autoencoder step 600 of a 1600-step run (drop at 1280): 600 steps without a drop
    $PY -m sandwich.train experiment=han ${COMMON/threads=1/threads=2} trainer.max_steps=600 model.lr_drop=2.0 \
      trainer.val_check_interval=200 callbacks.checkpoint.every_n_train_steps=200
    ae=logs/train/han/checkpoints/last.ckpt
    $PY -m sandwich.train experiment=han_pp ${COMMON/threads=1/threads=2} trainer.max_steps=100 trainer.val_check_interval=100 \
      callbacks.checkpoint.every_n_train_steps=100 init_from=$ae
    $PY -m sandwich.export logs/train/han_pp/checkpoints/last.ckpt checkpoints/han.pt --stage1 $ae
    ;;
  han_more)  # session 6: that han.pt's autoencoder 2000 more steps (lr drop at 80 %), then the post-processor
    # on it, 800 + 1200 steps
    fresh logs/train/han_s6
    $PY -m sandwich.train experiment=han name=han_s6 $COMMON trainer.max_steps=2000 trainer.val_check_interval=500 \
      callbacks.checkpoint.every_n_train_steps=250 init_from=$(committed_file $HAN_SESSION4 han.pt)
    ae=logs/train/han_s6/checkpoints/last.ckpt
    fresh logs/train/han_pp_s6
    $PY -m sandwich.train experiment=han_pp name=han_pp_s6 $COMMON trainer.max_steps=800 \
      trainer.val_check_interval=200 callbacks.checkpoint.every_n_train_steps=200 init_from=$ae
    # the post-processor was still rising at 800 steps: 1200 more from there (lr restarts at 2e-4)
    fresh logs/train/han_pp2_s6
    $PY -m sandwich.train experiment=han_pp name=han_pp2_s6 $COMMON trainer.max_steps=1200 trainer.val_check_interval=400 \
      callbacks.checkpoint.every_n_train_steps=400 init_from=logs/train/han_pp_s6/checkpoints/last.ckpt
    $PY -m sandwich.export logs/train/han_pp2_s6/checkpoints/last.ckpt checkpoints/han.pt \
      --stage1 logs/train/han_pp_s6/checkpoints/last.ckpt
    ;;
  *) echo "usage: $0 {hdr|sr|sr_1c|sr_crop256|sr_jitter|sr_shaped|sr_post2|sr_gpu|sr_gpu2|sr_cpu|sr_tables|post_only|dequant|han|han_more}" >&2; exit 2 ;;
esac
