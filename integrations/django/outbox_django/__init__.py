"""Outbox for Django: ``EMAIL_BACKEND = 'outbox_django.Backend'``."""

from .backend import Backend

__all__ = ["Backend"]
__version__ = "0.1.0"
