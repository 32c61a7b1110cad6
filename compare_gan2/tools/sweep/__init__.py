"""`compare_gan2 sweep`: many configurations x seeds, compared by the
distribution of their scores (the studies of "Are GANs Created Equal?").

A spec (TOML) names gin configs, bindings shared by all trials, a grid
and/or a list of named variants, and seeds:

  configs = ["mog_ring"]                    # shipped names or gin files
  bindings = ["options.training_steps = 2000"]
  seeds = [0, 1, 2]
  [grid]                                    # every combination
  "loss.fn" = ["@non_saturating", "@hinge"]
  "penalty.fn" = ["@no_penalty", "@wgangp_penalty"]
  [[variants]]                              # optional, crossed with the grid
  name = "sn"
  bindings = ["D.spectral_norm = True"]

`score_last = k` (default 1) scores each trial by the mean of each score
over its last k evaluated checkpoints instead of the last one alone (one
checkpoint of a GAN is a noisy reading; the trial must keep and evaluate
k checkpoints, e.g. `run_config.keep_checkpoint_max`).

Grid values are gin expressions: strings go in verbatim ("@hinge",
"'translation'"), numbers and booleans as Python writes them. Each trial is
a normal run directory, OUT/trials/<config>/seed<k>, trained and scored by
`python -m compare_gan2 ... --schedule eval_after_train` run in OUT (so
relative paths in bindings are under OUT); a rerun skips finished trials and
resumes interrupted ones from their checkpoints. Results
go to OUT/results.csv (one row per trial), OUT/summary.{csv,md} (per config:
best, median, mean, std and the per-seed values of each score) and
OUT/curves.png, OUT/boxplot.png.

Each finished trial also gets its grid values and final scores as
TensorBoard hparams (`tensorboard --logdir OUT`, HParams tab). A trial whose
child process is killed by a signal is restarted (`--max_retries` times) and
resumes from its checkpoint.

  compare_gan2 sweep --spec SPEC --out DIR [--parallel N]
  compare_gan2 sweep --spec SPEC --out DIR --backend ray [--address auto]
  compare_gan2 sweep --spec SPEC --out DIR --print_commands   # for a scheduler
  compare_gan2 sweep --spec SPEC --out DIR --report_only      # tables and plots

The Ray backend (ray.py, docs/sweeps_ray.md) runs each trial as a Ray
task; its resources come from the flags or the spec's `[ray]` table.

The modules, each importing only those before it: spec (the spec, its
trials, file operations), report (scores, tables, plots, hparams), run (the
local backend), ray (the Ray backend), backends (`run_spec`: a spec on a
backend, then the report; the command line's entry).
"""
