"""Sources: one folder per backend, each translating backend data into the frame contract.

Shared plumbing (HTTP, chunking, budgets, lazily opened clients, the ``Source`` base and
``Result``) lives in this package itself; each backend is a sub-package (``prometheus``,
``postgres``, ``loki``, ``tempo``, ``jaeger``, ``alertmanager``, ``files``).
"""
