"""Exception hierarchy. Every error kuzet raises derives from :class:`KuzetError`."""

from __future__ import annotations

from kuzet._native import core

KuzetError = core.KuzetError
InvalidArgument = core.InvalidArgument


class ModelError(KuzetError):
    """A model file is missing, corrupt, does not match its checksum, or does not fit its role."""


__all__ = ["KuzetError", "InvalidArgument", "ModelError"]
