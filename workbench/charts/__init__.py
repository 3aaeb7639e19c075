"""altair chart builders. Aggregate first; render offline (see :mod:`.render`).

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
