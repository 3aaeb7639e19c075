"""``python -m workbench``: the same command as ``workbench``.

Example::

    $ python -m workbench --version
    workbench 0.1.0
"""

from workbench.cli import main

raise SystemExit(main())
