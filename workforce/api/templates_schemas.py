"""Bodies of the task template endpoints (``results.templates``). A template's fields
are checked by the domain (``results.fields``), which names each problem by its JSON
pointer; the schemas here say their shape for the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import Text, UtcDateTime
from workforce.results.fields import KINDS, MAX_FIELDS

FIELD_SHAPE = (
    "A field: `{\"name\": \"accent\", \"label\": \"Accent\", \"help\": \"...\", \"kind\": "
    "\"single_choice\", \"required\": true, \"show_if\": {\"field\": \"verdict\", \"in\": "
    "[\"B\"]}, \"settings\": {...}}`; kinds: " + ", ".join(KINDS) + ". Settings per kind: "
    "docs/templates.md."
)


# A member named ``fields`` comes last in each schema: it hides marshmallow's module of
# that name for the lines after it.


class TemplateCreateSchema(Schema):
    change_note = Text(load_default="", validate=validate.Length(max=2000))
    # Read as it comes: the domain checks it and names each problem by its pointer.
    fields = fields.Raw(required=True, metadata={
        "type": "array", "items": {"type": "object"}, "minItems": 1, "maxItems": MAX_FIELDS,
        "description": FIELD_SHAPE})


class ConditionSchema(Schema):
    field = fields.String(metadata={"description": "An earlier choice or pairwise field."})
    in_ = fields.List(fields.Raw(), data_key="in", metadata={
        "description": "The field is shown when that field has one of these values "
        "(pairwise: its choice; multi_choice: any of them chosen)."})


class TemplateFieldSchema(Schema):
    name = fields.String()
    label = fields.String()
    help = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    required = fields.Boolean()
    show_if = fields.Nested(ConditionSchema, allow_none=True)
    settings = fields.Dict(metadata={"description": "The kind's settings, defaults filled "
                                     "in (docs/templates.md)."})


class TemplateVersionSchema(Schema):
    number = fields.Integer()
    change_note = fields.String()
    created_at = UtcDateTime()
    fields = fields.List(fields.Nested(TemplateFieldSchema))


class TemplateStateSchema(Schema):
    """The current template, or none: then `version` and `fields` are null and any JSON
    answer is accepted."""

    project_id = fields.UUID()
    version = fields.Integer(attribute="number", allow_none=True)
    change_note = fields.String(allow_none=True)
    created_at = UtcDateTime(allow_none=True)
    accepts = fields.String(metadata={"description": "What an answer must be."})
    fields = fields.List(fields.Nested(TemplateFieldSchema), allow_none=True)


class SchemaArgs(Schema):
    version = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "A version number; the current version when left out."})


class AnswerSchemaDocument(Schema):
    """A JSON Schema (draft 2020-12) of an answer: an object with one member per field."""

    dialect = fields.String(data_key="$schema", attribute="$schema", metadata={
        "example": "https://json-schema.org/draft/2020-12/schema"})
    id = fields.String(data_key="$id", attribute="$id")
    title = fields.String()
    type = fields.String(metadata={"example": "object"})
    properties = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "The schema of each field's value, with its label as `title` and "
        "its help as `description`."})
    required = fields.List(fields.String())
    additionalProperties = fields.Boolean()
    allOf = fields.List(fields.Dict(), metadata={
        "description": "One if/then/else per conditional field."})


class AssignmentTemplateSchema(Schema):
    """The template version an assignment answers to: the one in force at its claim."""

    number = fields.Integer()
    fields = fields.List(fields.Nested(TemplateFieldSchema))


class RenderedFieldSchema(Schema):
    name = fields.String()
    label = fields.String()
    kind = fields.String()
    value = fields.Raw(allow_none=True, metadata={"description": "As answered; null when "
                                                  "not given."})
    chosen = fields.List(fields.String(), allow_none=True, metadata={
        "description": "Choice fields: the labels of the chosen options."})
