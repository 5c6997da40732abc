"""`make bench`: every method in conf/bench.yaml on the shared test sets, then plots and BD tables.

Writes results/<task>/<method>.json, results/<task>/rd_*.png, results/<task>/bd_*.md,
results/bench_meta.json, results/report.html (interactive RD curves, BD with bootstrap intervals;
conf/bench.yaml `report:`), and the tables (with the measured run time, and the verdict on each
`targets` entry of conf/bench.yaml) into README.md between the `<!-- bench:begin -->` /
`<!-- bench:end -->` markers.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import hydra
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sandwich.core.paths import CONF_DIR
from sandwich.evaluation import rd
from sandwich.evaluation.html_report import write_report
from sandwich.evaluation.report import codec_example, splice_readme, summarise
from sandwich.evaluation.runner import EvaluationFailed, run


@hydra.main(config_path=str(CONF_DIR), config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    results = Path(cfg.paths.results_dir)
    meta_path = results / "bench_meta.json"
    logger_choice = HydraConfig.get().runtime.choices.logger
    group = cfg.logger.get("group") or f"bench-{time.strftime('%Y%m%d-%H%M%S')}"  # logger.group=NAME names it
    if not cfg.plot_only:
        timings, failures = {}, []
        for task, spec in cfg.tasks.items():
            for name in spec.methods:
                if cfg.only and name not in cfg.only:
                    continue
                overrides = [
                    f"method={name}",
                    f"data.root={Path(cfg.paths.data_root) / task / 'test'}",
                    f"output_dir={results / task}",
                    f"workers={cfg.workers}",
                    f"cvvdp_images={cfg.cvvdp_images}",
                    f"anchor={spec.anchor}",
                    f"logger={logger_choice}",
                    f"overwrite={cfg.overwrite}",
                ]
                if logger_choice == "wandb":  # the bench's runs: one group, files in the bench's run folder
                    overrides += [f"logger.group={group}", f"logger.save_dir={HydraConfig.get().runtime.output_dir}"]
                t0 = time.perf_counter()
                try:
                    run(compose(config_name="eval", overrides=overrides))
                except EvaluationFailed as failed:  # its results file is written: go on, fail at the end
                    failures.append(str(failed.code))
                timings[f"{task}/{name}"] = round(time.perf_counter() - t0, 1)
    # read after the runs: two `only=` benches run side by side then keep each other's timings
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if not cfg.plot_only:
        meta.update(
            method_wall_s={**meta.get("method_wall_s", {}), **timings},
            cores=os.cpu_count(),
            machine=platform.platform(),
            finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        # methods run one after another: the bench's time is the sum, also after an `only=` rerun
        listed = {f"{task}/{name}" for task, spec in cfg.tasks.items() for name in spec.methods}
        meta["wall_s"] = round(sum(t for k, t in meta["method_wall_s"].items() if k in listed), 1)
        results.mkdir(parents=True, exist_ok=True)
        if cfg.example_method and (not cfg.only or cfg.example_method in cfg.only):
            codec_example(cfg.example_method, Path(cfg.paths.data_root), results / "hdr" / "codec_example.png")
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    loaded = {task: rd.load_results(results / task) for task in cfg.tasks}
    tasks = OmegaConf.to_container(cfg.tasks, resolve=True)
    for task, spec in tasks.items():  # your own results files, drawn and tabulated beside the bench's
        yours = [name for name in cfg.extra if name in loaded[task] and name not in spec["methods"]]
        spec["methods"] = [*spec["methods"], *yours]
        if yours and spec.get("groups"):
            spec["groups"]["yours"] = yours
    sections = [
        summarise(task, results / task, spec["anchor"], list(spec["methods"]), loaded[task], spec.get("groups"))
        for task, spec in tasks.items()
    ]
    if cfg.targets:
        every_task = {name: res for by_name in loaded.values() for name, res in by_name.items()}
        sections.append("### Targets (BD-PSNR over the curves' overlap)\n\n" + rd.target_table(every_task, list(cfg.targets)))
    minutes = f"{meta['wall_s'] / 60:.1f} min" if meta.get("wall_s") else "not measured"
    body = (
        f"Measured `make bench` run time (sum of the per-method evaluation times, venv present): **{minutes}** on "
        f"{meta.get('cores', '?')} cores ({meta.get('finished', '')}).\n\n" + "\n\n".join(sections)
    )
    (results / "summary.md").write_text(body.replace("](results/", "](") + "\n")
    splice_readme(Path(cfg.readme), body)
    report = cfg.get("report")
    if report and report.get("html"):
        html = write_report(
            report.html, tasks, loaded, n_boot=int(report.n_boot), seed=int(report.seed), level=float(report.level),
            header=f"Bench run time {minutes} on {meta.get('cores', '?')} cores ({meta.get('finished', '')}).",
        )  # fmt: skip
        print(f"interactive report: {html}")
    print(body)
    if not cfg.plot_only and failures:
        raise EvaluationFailed("make bench: some images failed; results were written for the rest:\n" + "\n".join(failures))


if __name__ == "__main__":
    main()
