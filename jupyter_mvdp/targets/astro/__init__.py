"""Astronomer: its deploy API, then the deployment's Airflow REST API."""

from .target import AstroTarget

__all__ = ["AstroTarget"]
