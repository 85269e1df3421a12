"""Tandem: the Django project and what both processes share."""

from workflow.celery import app as celery_app

__all__ = ("celery_app",)
