"""Benchmarks and real-data experiments (not part of ``make test``).

* ``bench_<topic>.py`` — throughput benchmarks, run by ``make bench`` into docs/benchmarks.md;
* ``real_<topic>.py`` — real-data experiments on ``../shared/datasets``, run by
  ``make bench-real`` into docs/results.md.

Each module exposes ``run(ctx: BenchContext) -> str`` returning a markdown section; the
runner (:mod:`tests.benchmarks.run`) puts it between ``<!-- BEGIN <topic> -->`` and
``<!-- END <topic> -->`` markers of the output document, leaving the rest untouched.
"""
