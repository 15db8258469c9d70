"""Implementations organised for speed, apart from the reference in ``minieleatt.functional``.

Nothing in ``minieleatt.functional`` imports this package.
"""
