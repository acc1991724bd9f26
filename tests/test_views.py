"""lstmviz.views is the one list of view names: the window's panels, the walkthrough's docks
and the export's views all read it."""

from lstmviz import views
from lstmviz.cli.export import VIEWS
from lstmviz.walkthrough import DOCKS


def test_the_window_builds_exactly_the_panels_views_names():
    from lstmviz.ui.registry import panel_names, tool_classes

    assert panel_names() == list(views.PANELS)
    tools = {cls.name for cls in tool_classes()}
    assert tools <= set(views.TOOLS), tools - set(views.TOOLS)


def test_walkthrough_docks_and_export_views_come_from_views():
    assert DOCKS == views.DOCKS
    assert VIEWS == list(views.EXPORT_VIEWS)
    assert set(views.PANELS) <= set(DOCKS) and set(views.PANELS) <= set(VIEWS)
    assert len(set(views.DOCKS)) == len(views.DOCKS)
