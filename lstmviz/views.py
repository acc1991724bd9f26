"""The names of the views, the one list every layer reads (pure; no Qt).

A panel is a dock that plots the run (one module per panel in lstmviz/ui/panels, its class's
`name` is the name here); a tool dock drives the window (settings, the walkthrough narration,
training). These names are a public interface: walkthrough `docks` keys, `lstmviz export
--panels` values, export file names (VIEW.png, VIEW.csv) and saved layouts' `dock-<name>`
object names use them. Add, never rename.
"""

from __future__ import annotations

#: The dock panels, in View-menu order.
PANELS: tuple[str, ...] = ("gradients", "jacobians", "forget", "gates", "cellstate",
                           "inspector")
#: The tool docks.
TOOLS: tuple[str, ...] = ("settings", "walkthrough", "training")
#: Every dock a walkthrough step may name in `docks`.
DOCKS: tuple[str, ...] = ("settings", *PANELS, "walkthrough", "training")
#: What `lstmviz export` can write: the panels, the unrolled network and the whole window.
EXPORT_VIEWS: tuple[str, ...] = (*PANELS, "unrolled", "window")
