"""``scratchnet sweep``: hyper-parameter searches with scikit-learn, on local processes or Dask.

- :mod:`~scratchnet.app.sweep.config`: the TOML sweep file, parsed and validated;
- :mod:`~scratchnet.app.sweep.run`: the search and the best model;
- :mod:`~scratchnet.app.sweep.backends`: where the fits run (one process, loky, or Dask);
- :mod:`~scratchnet.app.sweep.results`: the results table, files and plot;
- :mod:`~scratchnet.app.sweep.workers`: the BLAS thread limit inside Dask workers.
"""
