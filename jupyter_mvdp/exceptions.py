"""Errors a user can act on.

Every error raised on purpose is an ``MvdpError``: its message is written for the user (one
line, naming the problem and, where possible, the fix) and its ``http_status`` tells the REST
layer how to answer. The CLI prints the message and exits 2 (bad input) or 1; the handlers map
the status in one place. Anything else is a bug and is logged, never shown raw.
"""

from __future__ import annotations


class MvdpError(Exception):
    """Base of all user-facing errors."""

    http_status = 400

    def __init__(self, message: str, *, errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        #: Optional per-field details: ``[{"field": "grid.max_depth", "message": "..."}]``.
        self.errors = errors or []

    def to_json(self) -> dict:
        body: dict = {"message": self.message, "error": type(self).__name__}
        if self.errors:
            body["errors"] = self.errors
        return body


# --- notebooks and parameters -------------------------------------------------------------


class NotebookNotFound(MvdpError):
    http_status = 404


class PathOutsideRoot(MvdpError):
    http_status = 403


class PathRefused(MvdpError):
    """A path that is not a plain relative path (absolute, '..', NUL, over-long, ...)."""


class NotANotebook(MvdpError):
    pass


class NoParametersCell(MvdpError):
    pass


class MultipleParametersCells(MvdpError):
    pass


class CellIndexError(MvdpError):
    pass


class UnsupportedKernel(MvdpError):
    """papermill has no translator for the notebook's kernel: it cannot inject parameters."""


class NoKernel(MvdpError):
    """The notebook names no kernel and neither the plan nor the target gives one."""


# --- plans and grids ----------------------------------------------------------------------


class InvalidPlan(MvdpError):
    """The plan document does not follow schema/plan.schema.json, or contradicts itself."""


class UnknownParameter(InvalidPlan):
    pass


class ParameterTypeError(InvalidPlan):
    pass


class GridTooLarge(InvalidPlan):
    pass


class PolicyViolation(MvdpError):
    """The plan asks for something the admin's policy (core/policy.py) does not allow; each
    entry of ``errors`` names its field and the rule."""

    http_status = 403

    @classmethod
    def of(cls, errors: list[dict]) -> PolicyViolation:
        first = errors[0]
        where = f"{first['field']}: " if first["field"] else ""
        return cls(f"Refused by the policy: {where}{first['message']}", errors=errors)


class TooManyRuns(MvdpError):
    """The user already has as many active runs on the target as the policy allows."""

    http_status = 429


# --- runs and targets ---------------------------------------------------------------------


class RunNotFound(MvdpError):
    http_status = 404


class PipelineNotFound(MvdpError):
    """No run or deploy of this pipeline is the user's."""

    http_status = 404


class NotYours(MvdpError):
    """Another user's run or pipeline (the hub service answers for its owner only)."""

    http_status = 403


class RunConflict(MvdpError):
    """The run is in a state that does not allow the request (e.g. cancel a finished run)."""

    http_status = 409


class UnknownTarget(MvdpError):
    http_status = 404


class TargetError(MvdpError):
    """A target (Airflow, Astro, ...) failed or refused; the user's work is untouched."""

    http_status = 502


class TargetUnreachable(TargetError):
    pass


class TargetAuthError(TargetError):
    pass


class DeployError(TargetError):
    pass


class DagImportError(TargetError):
    """Airflow parsed the generated DAG and reported an import error (its message is kept)."""


class DagNotParsed(TargetError):
    """The DAG did not appear in the target in time."""


class DagRunFailed(TargetError):
    pass


class RequestTooLarge(MvdpError):
    http_status = 413


class StoreUnavailable(MvdpError):
    """The run store cannot be opened or written (its message names the file and why)."""

    http_status = 503


class StoreFull(StoreUnavailable):
    """The disk under the run store is full (its message names the disk and the path)."""

    http_status = 507


class MissingDependency(MvdpError):
    """An optional dependency is needed for this feature; the message has the pip command."""

    http_status = 501


def error_document(
    error: BaseException | None, reason: str, internal: str
) -> tuple[int | None, dict]:
    """(status or None to keep the handler's, JSON body) of an error answered by a handler:
    an MvdpError as itself, tornado's HTTPError by its message, anything else as the
    ``internal`` message (its traceback goes to the log only)."""
    from tornado import web

    if isinstance(error, MvdpError):
        return error.http_status, error.to_json()
    if isinstance(error, web.HTTPError):
        return None, {"message": error.log_message or reason, "error": "HTTPError"}
    return None, {"message": internal, "error": "InternalError"}
