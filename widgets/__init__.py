"""Jupyter widgets for the workbench (ipywidgets + altair JupyterChart). No data logic here."""
