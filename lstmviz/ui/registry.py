"""Every dock panel and tool dock of the main window, imported statically (so the import
contracts in pyproject.toml see each edge), in View-menu order.

`PANEL_CLASSES` keeps the (name, class name) pairs the window and the export have always
listed; `panel_classes()` gives the classes; `TOOL_CLASSES` the tool docks (each takes the
window, has `name`, `title`, `tooltip`, `area` and may define `install(window)`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class LazyTool:
    """A tool dock whose module is imported only when the dock is first made (`tool =
    spec(window)`): the window needs its name, title, tooltip and area at launch, which live
    here and which the tool's class reads from here (one home)."""

    name: str
    title: str
    tooltip: str
    area: str
    load: Callable[[], type]

    def __call__(self, window):
        return self.load()(window)


def _training_class() -> type:
    from lstmviz.ui.training_panel import TrainingPanel

    return TrainingPanel


#: The training dock: closed at launch, its module pulls in the trainer, the sweep, their
#: workers and plots (a sixth of the launch), so it loads when the dock is first opened.
TRAINING = LazyTool(
    "training", "Training",
    "Train the models on the adding problem or delayed recall and watch the loss against "
    "chance, the gradient ratio ||dL/dh_1|| / ||dL/dh_T|| and the forget-gate bias; replay "
    "the training in the main window; sweep success against lag.",
    "bottom", _training_class)


def tool_classes() -> list:
    """The tool docks: classes, or `LazyTool` specs for those whose module loads on first
    use (imported here, not at module level: they import the lecture and presenter
    modules, which read LAYOUT_VERSION from this module)."""
    from lstmviz.ui.walkthrough_panel import WalkthroughPanel

    return [WalkthroughPanel, TRAINING]
