"""A real Airflow 3 deployment, driven over its REST API."""

from .target import AirflowTarget

__all__ = ["AirflowTarget"]
