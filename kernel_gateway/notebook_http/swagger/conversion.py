"""Swagger 2.0 operations and schemas written as OpenAPI 3.1.

builders.py calls these when the notebook's own document is Swagger 2.0 and the OpenAPI 3.1
document is built, so that both documents describe the same operations. An in-body
parameter becomes a `requestBody` with one entry per `consumes` type (JSON by default);
formData parameters become an object schema under a form type; path, query and header
parameters get a `schema`; a response `schema` becomes `content` per `produces` type
(none for statuses without a body). `#/definitions/` references point to
`#/components/schemas/`; `#/parameters/` and `#/responses/` references are resolved in
place. Security definitions are not converted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

JSON = "application/json"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_PLAIN_LOCATIONS = ("path", "query", "header")
_OPERATION_FIELDS = ("tags", "summary", "description", "externalDocs", "operationId", "deprecated")
_PARAMETER_FIELDS = ("name", "in", "description", "required", "allowEmptyValue")
_SCHEMA_FIELDS = (
    "type", "format", "items", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "enum", "multipleOf",
)  # fmt: skip
# collectionFormat of a query array -> OpenAPI style; path and header arrays are csv already.
_QUERY_STYLES: dict[str, dict[str, Any]] = {
    "csv": {"style": "form", "explode": False},
    "ssv": {"style": "spaceDelimited", "explode": False},
    "pipes": {"style": "pipeDelimited", "explode": False},
}


def has_body(status: object) -> bool:
    """Whether a response of `status` (a code, or "default") may carry a body."""
    code = str(status)
    if not code.isdigit():
        return True
    return not (100 <= int(code) < 200 or int(code) in (204, 205, 304))


def _extensions(source: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in source.items() if str(k).startswith("x-")}


def _convert_subschemas(out: dict[str, Any]) -> None:
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = convert_schema(out[key])
    if isinstance(out.get("items"), list):
        out["prefixItems"] = [convert_schema(s) for s in out.pop("items")]
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [convert_schema(s) for s in out[key]]
    for key in ("properties", "patternProperties"):
        if isinstance(out.get(key), dict):
            out[key] = {name: convert_schema(s) for name, s in out[key].items()}


def _convert_keywords(out: dict[str, Any]) -> None:
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        out["$ref"] = "#/components/schemas/" + ref[len("#/definitions/") :]
    for bound, flag in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
        if isinstance(out.get(flag), bool):
            exclusive = out.pop(flag)
            if exclusive and bound in out:
                out[flag] = out.pop(bound)
    if out.get("type") == "file":
        out.update(type="string", format="binary")
    if isinstance(out.get("discriminator"), str):
        out["discriminator"] = {"propertyName": out["discriminator"]}


def convert_schema(schema: Any) -> Any:
    """A Swagger 2.0 (JSON Schema draft 4) schema as an OpenAPI 3.1 (2020-12) one.

    Boolean exclusive bounds become numbers, `type: file` a binary string, a string
    discriminator an object, a list of `items` `prefixItems`; references are rewritten.
    """
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    out = copy.deepcopy(schema)
    _convert_subschemas(out)
    _convert_keywords(out)
    return out


def _resolve(spec: Mapping[str, Any], item: Any, section: str) -> Any:
    """`item`, or what its `#/<section>/<name>` reference names in `spec`."""
    ref = item.get("$ref") if isinstance(item, dict) else None
    prefix = f"#/{section}/"
    if not isinstance(ref, str) or not ref.startswith(prefix):
        return item
    name = ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
    return spec.get(section, {}).get(name, item)


def _parameter_schema(param: Mapping[str, Any]) -> dict[str, Any]:
    schema = {k: copy.deepcopy(v) for k, v in param.items() if k in _SCHEMA_FIELDS}
    return dict(convert_schema(schema))


def convert_parameter(param: Mapping[str, Any]) -> dict[str, Any]:
    """A Swagger path, query or header parameter as an OpenAPI 3.1 one with a `schema`."""
    out = {k: copy.deepcopy(v) for k, v in param.items() if k in _PARAMETER_FIELDS}
    out["schema"] = _parameter_schema(param)
    if param.get("type") == "array" and param.get("in") == "query":
        out.update(_QUERY_STYLES.get(str(param.get("collectionFormat", "csv")), {}))
    out.update(_extensions(param))
    return out


def _form_body(fields: list[Mapping[str, Any]], consumes: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {str(p["name"]): _parameter_schema(p) for p in fields},
    }
    required = [str(p["name"]) for p in fields if p.get("required")]
    if required:
        schema["required"] = required
    with_file = any(p.get("type") == "file" for p in fields)
    types = [t for t in consumes if t in FORM_TYPES] or [FORM_TYPES[1 if with_file else 0]]
    return {
        "content": {t: {"schema": copy.deepcopy(schema)} for t in types},
        "required": bool(required),
    }


def request_body(params: list[Mapping[str, Any]], consumes: list[str]) -> dict[str, Any] | None:
    """The requestBody of an in-body parameter or of formData parameters; None without."""
    body = next((p for p in params if p.get("in") == "body"), None)
    if body is None:
        fields = [p for p in params if p.get("in") == "formData" and "name" in p]
        return _form_body(fields, consumes) if fields else None
    types = [t for t in consumes if t not in FORM_TYPES] or [JSON]
    out: dict[str, Any] = {}
    if body.get("description"):
        out["description"] = body["description"]
    out["content"] = {t: {"schema": convert_schema(body.get("schema", {}))} for t in types}
    out["required"] = bool(body.get("required", False))
    out.update(_extensions(body))
    return out


def _convert_header(header: Mapping[str, Any]) -> dict[str, Any]:
    out = {"description": header["description"]} if "description" in header else {}
    return {**out, "schema": _parameter_schema(header), **_extensions(header)}


def convert_response(
    response: Mapping[str, Any], status: object, produces: list[str]
) -> dict[str, Any]:
    """A Swagger response as an OpenAPI 3.1 one: `schema` and `examples` become `content`."""
    out: dict[str, Any] = {"description": str(response.get("description", ""))}
    headers = response.get("headers")
    if isinstance(headers, dict) and headers:
        out["headers"] = {str(name): _convert_header(h) for name, h in headers.items()}
    if "schema" in response and has_body(status):
        examples = response.get("examples") or {}
        out["content"] = {}
        for media_type in produces or [JSON]:
            media: dict[str, Any] = {"schema": convert_schema(response["schema"])}
            if media_type in examples:
                media["example"] = copy.deepcopy(examples[media_type])
            out["content"][media_type] = media
    out.update(_extensions(response))
    return out


def _parameters(
    spec: Mapping[str, Any], path_item: Mapping[str, Any], operation: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The path item's parameters overridden by the operation's, by name and location."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        param = _resolve(spec, raw, "parameters")
        if isinstance(param, dict) and "in" in param:
            merged[(str(param.get("name")), str(param["in"]))] = param
    return list(merged.values())


def convert_operation(
    spec: Mapping[str, Any], path_item: Mapping[str, Any], operation: Mapping[str, Any]
) -> dict[str, Any]:
    """An OpenAPI 3.1 operation from a Swagger 2.0 `operation` of `path_item` in `spec`."""
    out = {k: copy.deepcopy(operation[k]) for k in _OPERATION_FIELDS if k in operation}
    params = _parameters(spec, path_item, operation)
    plain = [convert_parameter(p) for p in params if p["in"] in _PLAIN_LOCATIONS]
    if plain:
        out["parameters"] = plain
    body = request_body(params, list(operation.get("consumes", spec.get("consumes", []))))
    if body:
        out["requestBody"] = body
    produces = list(operation.get("produces", spec.get("produces", [])))
    out["responses"] = {
        str(status): convert_response(_resolve(spec, response, "responses"), status, produces)
        for status, response in operation.get("responses", {}).items()
        if not str(status).startswith("x-") and isinstance(response, dict)
    }
    out.update(_extensions(operation))
    return out


def convert_definitions(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The Swagger `definitions` of `spec` as OpenAPI 3.1 `components/schemas`."""
    definitions = spec.get("definitions") or {}
    return {str(name): convert_schema(schema) for name, schema in definitions.items()}


def find_operation(
    spec: Mapping[str, Any], operation_id: str | None
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The path item and operation of `spec` with `operation_id`, if there is one."""
    if operation_id is None:
        return None
    for item in (spec.get("paths") or {}).values():
        if not isinstance(item, dict):
            continue
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return item, operation
    return None
