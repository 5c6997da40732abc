#!/usr/bin/env bash
# The exact commands that produced the shipped checkpoints (CPU, 2 cores, see README.md here).
# Usage: bash checkpoints/train.sh {hdr|sr|post_only|dequant|han}   (chains ran side by side)
# SKIP_STAGE1=1 runs only the fine-tunes from an existing stage-1 checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
export SANDWICH_DATA="${SANDWICH_DATA:-../shared/data}" WANDB_MODE="${WANDB_MODE:-offline}"
PY=.venv/bin/python
COMMON="threads=1 data.crop=128 trainer.enable_progress_bar=false"
STAGE1_STEPS=2500   # stage 1: one λ per task, lr 5e-4 without a drop
declare -A LONG_STEPS=([hdr]=2000 [sr]=2000)  # stage 1b: the same λ continued (Δ restarts), lr 5e-4, no drop
FT_STEPS=500        # stage 2: every λ (the stage-1 λ too) from stage 1b, lr 2e-4 -> 2e-5 at 80%

stage1() {  # task lmbda step_init
  $PY -m sandwich.train experiment=sandwich_$1 $COMMON model.lmbda=$2 model.step_init=$3 model.lr=5e-4 \
    trainer.max_steps=$STAGE1_STEPS model.lr_drop=2.0 ckpt_path=${RESUME:-null}
  $PY -m sandwich.train experiment=sandwich_$1 name=sandwich_$1_long $COMMON model.lmbda=$2 model.step_init=$3 \
    model.lr=5e-4 trainer.max_steps=${LONG_STEPS[$1]} model.lr_drop=2.0 \
    init_from=logs/train/sandwich_$1/lmbda_$2/checkpoints/step$(printf %06d $STAGE1_STEPS).ckpt
}

finetune() {  # task stage1_lmbda lmbda step_init
  local start=logs/train/sandwich_$1_long/lmbda_$2/checkpoints/step$(printf %06d ${LONG_STEPS[$1]}).ckpt
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
  *) echo "usage: $0 {hdr|sr|post_only|dequant|han}" >&2; exit 2 ;;
esac
