"""Operating the connector: log lines, run-stage progress, ``upskill status`` and the
Prometheus metrics (served by the worker, written to a textfile by one-shot commands)."""
