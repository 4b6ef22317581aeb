"""The window's panels: each a QWidget with its own layout, exposing signals and methods for the window to wire."""
