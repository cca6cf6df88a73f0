"""The docs page (and figure) of a benchmark, rendered from its result: the script stays a short question.

``pages/<script>.py`` turns the result a script writes (``docs/benchmarks/<script>.json``) into its
markdown page; a page that only reads the result can be redrawn without training (``--report-only``,
``--from-json``).
"""
