#!/usr/bin/env bash
# The exact commands that produced the shipped checkpoints (CPU, 2 cores, see README.md here).
# Usage: bash checkpoints/train.sh {hdr|sr|sr_1c|post_only|dequant|han|han_more}   (chains ran side by side)
# Session 5 went on from the files committed at SESSION4 (its run folders were gone): sr_1c and
# han_more are the commands that produced today's SR sandwiches and han.pt.
# SKIP_STAGE1=1 runs only the fine-tunes from an existing stage-1 checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
export SANDWICH_DATA="${SANDWICH_DATA:-../shared/data}" WANDB_MODE="${WANDB_MODE:-offline}"
PY=.venv/bin/python
COMMON="threads=1 data.crop=128 trainer.enable_progress_bar=false"
STAGE1_STEPS=2500   # stage 1: one λ per task, lr 5e-4 without a drop
declare -A LONG_STEPS=([hdr]=2000 [sr]=2000)  # stage 1b: the same λ continued (Δ restarts), lr 5e-4, no drop
FT_STEPS=500        # stage 2: every λ (the stage-1 λ too) from stage 1b, lr 2e-4 -> 2e-5 at 80%
SESSION4=a7fcb10    # the commit whose shipped files session 5 continued from
SR_1C_STEPS=STEPS_1C   # stage 1c (session 5): SR λ=50 continued from the session-4 λ=50 file, lr 5e-4, no drop

session4_file() {  # path in checkpoints/ -> a copy of that file as committed at SESSION4
  local out=logs/init/$SESSION4/$1
  mkdir -p "$(dirname "$out")" && git show "$SESSION4:checkpoints/$1" > "$out" && echo "$out"
}

stage1() {  # task lmbda step_init
  $PY -m sandwich.train experiment=sandwich_$1 $COMMON model.lmbda=$2 model.step_init=$3 model.lr=5e-4 \
    trainer.max_steps=$STAGE1_STEPS model.lr_drop=2.0 ckpt_path=${RESUME:-null}
  $PY -m sandwich.train experiment=sandwich_$1 name=sandwich_$1_long $COMMON model.lmbda=$2 model.step_init=$3 \
    model.lr=5e-4 trainer.max_steps=${LONG_STEPS[$1]} model.lr_drop=2.0 \
    init_from=logs/train/sandwich_$1/lmbda_$2/checkpoints/step$(printf %06d $STAGE1_STEPS).ckpt
}

finetune() {  # task stage1_lmbda lmbda step_init file_lmbda   (START: the checkpoint fine-tuned from)
  local start=${START:-logs/train/sandwich_$1_long/lmbda_$2/checkpoints/step$(printf %06d ${LONG_STEPS[$1]}).ckpt}
  $PY -m sandwich.train experiment=sandwich_$1 name=sandwich_$1_ft $COMMON model.lmbda=$3 model.step_init=$4 \
    model.lr=2e-4 trainer.max_steps=$FT_STEPS trainer.val_check_interval=250 init_from=$start
  $PY -m sandwich.export logs/train/sandwich_$1_ft/lmbda_$3/checkpoints/last.ckpt \
    checkpoints/sandwich_$1/lambda_$5.pt --stage1 $start
}

case "${1:-}" in
  hdr)
    [[ -n ${SKIP_STAGE1:-} ]] || stage1 hdr 200000.0 6.0
    finetune hdr 200000.0 1500000.0 14.0 1.5e6
    finetune hdr 200000.0 600000.0 9.0 6e5
    finetune hdr 200000.0 200000.0 6.0 2e5
    finetune hdr 200000.0 50000.0 3.0 5e4
    ;;
  sr)
    [[ -n ${SKIP_STAGE1:-} ]] || stage1 sr 50.0 10.0
    finetune sr 50.0 400.0 20.0 400
    finetune sr 50.0 150.0 14.0 150
    finetune sr 50.0 50.0 10.0 50
    finetune sr 50.0 20.0 6.0 20
    ;;
  sr_1c)
    $PY -m sandwich.train experiment=sandwich_sr name=sandwich_sr_long2 $COMMON model.lmbda=50.0 model.step_init=10.0 \
      model.lr=5e-4 trainer.max_steps=$SR_1C_STEPS model.lr_drop=2.0 init_from=$(session4_file sandwich_sr/lambda_50.pt)
    export START=logs/train/sandwich_sr_long2/lmbda_50.0/checkpoints/step$(printf %06d $SR_1C_STEPS).ckpt
    finetune sr 50.0 400.0 20.0 400
    finetune sr 50.0 150.0 14.0 150
    finetune sr 50.0 50.0 10.0 50
    finetune sr 50.0 20.0 6.0 20
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
  han_more)  # session 5: the session-4 han.pt's autoencoder trained on (lr 2e-4, x0.1 at step 1600), then the post
    $PY -m sandwich.train experiment=han name=han_long $COMMON trainer.max_steps=250 model.lr_drop=2.0 \
      trainer.val_check_interval=250 callbacks.checkpoint.every_n_train_steps=250 init_from=$(session4_file han.pt)
    $PY -m sandwich.train experiment=han name=han_long2 $COMMON trainer.max_steps=2000 trainer.val_check_interval=250 \
      callbacks.checkpoint.every_n_train_steps=250 init_from=logs/train/han_long/checkpoints/step000250.ckpt
    ae=logs/train/han_long2/checkpoints/last.ckpt
    $PY -m sandwich.train experiment=han_pp name=han_pp_long $COMMON trainer.max_steps=HAN_PP_STEPS \
      trainer.val_check_interval=100 callbacks.checkpoint.every_n_train_steps=100 init_from=$ae
    $PY -m sandwich.export logs/train/han_pp_long/checkpoints/last.ckpt checkpoints/han.pt --stage1 $ae
    ;;
  *) echo "usage: $0 {hdr|sr|sr_1c|post_only|dequant|han|han_more}" >&2; exit 2 ;;
esac
