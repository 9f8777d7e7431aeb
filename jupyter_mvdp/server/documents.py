"""Untrusted JSON in, plain data out: the one parser for request bodies and plan files.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e999`` (as inf), lone surrogates
(``"\\ud800"``, which cannot be encoded later: SQLite, notebooks, ids) and nesting deep enough to
exhaust the stack. Each of those became a 500 somewhere downstream, so they are refused here,
once, with a message naming the problem; the request bodies are then checked against their
schema (``BODIES``) so a handler only ever sees the shape it expects.
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any

from ..exceptions import MvdpError, RequestTooLarge

MAX_BODY_BYTES = 1 << 20  # a plan of 10,000 explicit values is ~200 KB
MAX_DEPTH = 64

_PATH = {"type": "string"}
BODIES: dict[str, dict] = {
    "parameters-cell": {
        "type": "object",
        "additionalProperties": False,
        "required": ["cell_index"],
        "properties": {
            "cell_index": {"type": "integer", "minimum": 0},
            "tagged": {"type": "boolean"},
        },
    },
    "validate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["notebook"],
        "properties": {"notebook": _PATH, "plan": {}, "target": {"type": ["string", "null"]}},
    },
    "run": {
        "type": "object",
        "additionalProperties": False,
        "required": ["notebook"],
        "properties": {"notebook": _PATH, "plan": {}, "target": {"type": ["string", "null"]}},
    },
    # the hub service's (jupyter_mvdp/hub): a notebook and its plan, never a DAG; run_id
    # (the client's, a new_run_id) when it is to be deployed, none to render only
    "hub-run": {
        "type": "object",
        "additionalProperties": False,
        "required": ["target", "notebook", "content", "plan"],
        "properties": {
            "target": {"type": "string"},
            "notebook": _PATH,
            "content": {"type": "object"},
            "deploy_content": {"type": ["object", "null"]},
            "plan": {"type": "object"},
            "pipeline": {"type": ["string", "null"]},
            "champion": {"type": ["number", "null"]},
            "run_id": {"type": "string"},
        },
    },
    "hub-cancel": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": ["string", "null"], "maxLength": 1000}},
    },
}


def _no_constant(name: str):
    raise MvdpError(f"{name} is not a JSON number; send a finite number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MvdpError(f"the number {text[:40]} is too large")
    return value


def parse(raw: bytes | str, what: str = "The request body") -> Any:
    """Strict JSON: finite numbers, valid Unicode, at most ``MAX_DEPTH`` levels."""
    if len(raw) > MAX_BODY_BYTES:
        raise RequestTooLarge(f"{what} is over {MAX_BODY_BYTES // 1024} KiB")
    try:
        doc = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise MvdpError(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise MvdpError(f"{what} is not valid JSON: {e}") from None
    _check_tree(doc, what)
    return doc


def _check_tree(doc: Any, what: str) -> None:
    """Depth and Unicode of every key and string, iteratively (no recursion to exhaust)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MvdpError(f"{what} is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            _check_text(node, what)
        elif isinstance(node, dict):
            for key, value in node.items():
                _check_text(key, what)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MvdpError(
            f"{what} holds a lone surrogate (\\ud800-\\udfff): not valid Unicode text"
        ) from None


def body(raw: bytes, kind: str) -> dict:
    """A request body of ``kind`` (a key of ``BODIES``), parsed and checked."""
    doc = parse(raw or b"{}")
    problems = sorted(_validator(kind).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if problems:
        errors = [_field_error(e) for e in problems]
        first = errors[0]
        raise MvdpError(f"{first['field'] or 'body'}: {first['message']}", errors=errors)
    return doc


def _field_error(error) -> dict:
    field = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = ", ".join(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return {
            "field": field,
            "message": f"unknown key {', '.join(map(repr, extra))} (allowed: {allowed})",
        }
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return {"field": ".".join(filter(None, [field, *missing[:1]])), "message": "required"}
    text = repr(error.instance)
    short = text if len(text) <= 60 else text[:57] + "..."
    return {"field": field, "message": f"{short} is not valid: expected {_expected(error)}"}


def _expected(error) -> str:
    schema = error.schema
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        text = " or ".join(kinds)
        return f"{text} >= {schema['minimum']}" if "minimum" in schema else text
    return error.message


@cache
def _validator(kind: str):
    import jsonschema

    return jsonschema.Draft202012Validator(BODIES[kind])
