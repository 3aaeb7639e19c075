"""Jupyter widgets for the workbench (ipywidgets + altair JupyterChart). No data logic here.

Example::

    >>> from widgets import WindowPicker
    >>> WindowPicker(key="main")
"""

from widgets.pickers import ServicePicker, SourceStatusPanel, WindowPicker

__all__ = ["ServicePicker", "SourceStatusPanel", "WindowPicker"]
