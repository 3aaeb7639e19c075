"""Jupyter widgets for the workbench (ipywidgets + altair JupyterChart). No data logic here.

Example::

    >>> from widgets import IncidentExplorer, WindowPicker
    >>> IncidentExplorer(inc, key="inc")
    >>> WindowPicker(key="main")
"""

from widgets.explorer import IncidentExplorer
from widgets.pickers import ServicePicker, SourceStatusPanel, WindowPicker

__all__ = ["IncidentExplorer", "ServicePicker", "SourceStatusPanel", "WindowPicker"]
