"""Hydra programs over dlkit: ``run`` (train), ``report`` (tables), ``complexity`` (counts)."""
