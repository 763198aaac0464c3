"""Experiments: the run builder and what runs many trainings.

- :mod:`~minitrain.experiments.runs`: the run builder, the ONLY place where options
  become a model, an optimizer, a schedule and the trainer's arguments, and where
  they are checked to fit together; run directories.
- :mod:`~minitrain.experiments.compare`: several optimizers/schedules from one start.
- :mod:`~minitrain.experiments.sweep`: grids of runs on joblib or Dask.
- :mod:`~minitrain.experiments.lrfind`: the learning-rate range test.
"""
