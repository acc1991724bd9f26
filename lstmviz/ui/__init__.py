"""Everything Qt: the main window, the session adapter, the unrolled view and the panels."""
