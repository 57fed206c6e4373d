"""Solver backends behind one interface (see :mod:`.base`)."""
