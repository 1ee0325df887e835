"""Exceptions raised by :mod:`lmm` for problems in the user's data or arguments."""


class InputError(ValueError):
    """Bad data or arguments, with a plain message saying what is wrong and where.

    A subclass of :class:`ValueError`, so ``except ValueError`` catches it too.
    The workflow prints the message without a traceback and exits non-zero.
    """
