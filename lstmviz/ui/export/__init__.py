"""Export, ui side: views built off screen for a destination (scene), the one pipeline
that renders and writes them (writer), the lecture deck (deck) and File > Export (dialog).
Planning, names, CSV and staging are `lstmviz.export` (no Qt)."""
