"""Every dock panel and tool dock of the main window, imported statically (so the import
contracts in pyproject.toml see each edge), in View-menu order.

`PANEL_CLASSES` keeps the (name, class name) pairs the window and the export have always
listed; `panel_classes()` gives the classes; `TOOL_CLASSES` the tool docks (each takes the
window, has `name`, `title`, `tooltip`, `area` and may define `install(window)`).
"""

from __future__ import annotations

from lstmviz.ui.panels.cellstate import CellStatePanel
from lstmviz.ui.panels.forget import ForgetPanel
from lstmviz.ui.panels.gates import GatesPanel
from lstmviz.ui.panels.gradients import GradientPanel
from lstmviz.ui.panels.inspector import InspectorPanel
from lstmviz.ui.panels.jacobians import JacobianPanel

PANELS = (GradientPanel, JacobianPanel, ForgetPanel, GatesPanel, CellStatePanel,
          InspectorPanel)

#: (module name = panel name, class name) of every dock panel, in View-menu order.
PANEL_CLASSES = [(cls.name, cls.__name__) for cls in PANELS]

#: Size of the window's layout state (QMainWindow.saveState's version).
LAYOUT_VERSION = 1


def panel_classes() -> list[type]:
    return list(PANELS)


def panel_class_map() -> dict[str, type]:
    return {cls.name: cls for cls in PANELS}


def panel_names() -> list[str]:
    return [cls.name for cls in PANELS]


def tool_classes() -> list[type]:
    """The tool docks (imported here, not at module level: they import the lecture and
    presenter modules, which read LAYOUT_VERSION from this module)."""
    from lstmviz.ui.training_panel import TrainingPanel
    from lstmviz.ui.walkthrough_panel import WalkthroughPanel

    return [WalkthroughPanel, TrainingPanel]
