"""Figures of skeletons and attention (matplotlib, Agg backend): :mod:`mans.viz.skeleton` draws a
layout's bones, :mod:`mans.viz.show` animates a file (``mans show``)."""
