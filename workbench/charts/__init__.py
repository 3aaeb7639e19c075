"""altair chart builders. Aggregate first; render offline (see :mod:`.render`).

Encodings are channel objects (``x2=alt.X2("end:T")``), not shorthand strings
(``x2="end:T"``): altair turns a string into its channel through ``from_dict``, which
rebuilds a table of every schema class each time (3-4 ms per string); same spec.

Example::

    >>> from workbench.charts import service_graph_chart, red_panels, render
    >>> render.enable_offline()
    >>> red_panels(r, inc.window, inc.baseline)
"""

from workbench.charts.graph import service_graph_chart
from workbench.charts.logs import top_errors_chart
from workbench.charts.red import red_panels
from workbench.charts.timeline import timeline_chart

__all__ = ["red_panels", "service_graph_chart", "timeline_chart", "top_errors_chart"]
