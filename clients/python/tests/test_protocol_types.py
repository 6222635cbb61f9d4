"""The client's wire types (torl_client.protocol) against the daemon's JSON Schemas (schemas/): the committed file
is what the generator makes of today's schemas, and every TypedDict has exactly its schema's properties, with the
same required ones, at every depth. No daemon needed."""
import importlib.util
import json
import os
import typing

from torl_client import protocol

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCHEMAS = os.path.join(ROOT, "schemas")


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_client_types",
                                                  os.path.join(ROOT, "scripts", "generate_client_types.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name):
    with open(os.path.join(SCHEMAS, name), encoding="utf-8") as handle:
        return json.load(handle)


COMMON = load("common.json")["$defs"]


def resolve(schema):
    while "$ref" in schema:
        schema = COMMON[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def is_typed_dict(kind):
    return isinstance(kind, type) and hasattr(kind, "__required_keys__")


def typed_dicts_in(kind):
    """The TypedDicts a field's type holds: itself, list items, union members."""
    if is_typed_dict(kind):
        return [kind]
    found = []
    for argument in typing.get_args(kind):
        found += typed_dicts_in(argument)
    return found


def object_schemas_in(schema):
    schema = resolve(schema)
    if "properties" in schema:
        return [schema]
    found = []
    for key in ("anyOf", "oneOf"):
        for member in schema.get(key, []):
            found += object_schemas_in(member)
    if "items" in schema:
        found += object_schemas_in(schema["items"])
    return found


def compare(kind, schema, where, problems):
    """Appends every difference between the TypedDict `kind` and the object `schema` (recursing into fields)."""
    properties = schema["properties"]
    hints = typing.get_type_hints(kind)
    for missing in sorted(set(properties) - set(hints)):
        problems.append("%s: schema property %r is not a field of %s" % (where, missing, kind.__name__))
    for extra in sorted(set(hints) - set(properties)):
        problems.append("%s: field %r of %s is not in the schema" % (where, extra, kind.__name__))
    required = set(schema.get("required", []))
    if set(kind.__required_keys__) != required:
        problems.append("%s: required %s in the schema, %s in %s" % (
            where, sorted(required), sorted(kind.__required_keys__), kind.__name__))
    for name in sorted(set(properties) & set(hints)):
        nested_types, nested_schemas = typed_dicts_in(hints[name]), object_schemas_in(properties[name])
        if len(nested_types) != len(nested_schemas):
            problems.append("%s.%s: %d object schemas, %d TypedDicts" % (where, name, len(nested_schemas),
                                                                       len(nested_types)))
        for nested_type, nested_schema in zip(nested_types, nested_schemas):
            compare(nested_type, nested_schema, "%s.%s" % (where, name), problems)


def test_the_committed_types_are_what_the_schemas_generate():
    generator = load_generator()
    with open(generator.OUTPUT, encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == generator.Generator().generate(), "run scripts/generate_client_types.py"


def test_every_method_has_its_types_and_every_schema_its_method():
    files = {name[:-len(".json")].replace(".", "/") for name in os.listdir(SCHEMAS)
             if name.endswith(".json") and name != "common.json"}
    assert set(protocol.METHODS) == files
    for method in ("solve", "rollout", "train_step", "evaluate", "status", "initialize"):
        assert method in protocol.METHODS


def test_every_typed_dict_matches_its_schema_both_ways():
    problems = []
    for method, (params, result) in protocol.METHODS.items():
        definitions = load(method.replace("/", ".") + ".json")["$defs"]
        for part, kind in (("params", params), ("result", result)):
            schemas = object_schemas_in(definitions[part])
            types = typed_dicts_in(kind) if kind is not None else []
            assert len(types) == len(schemas), "%s %s" % (method, part)
            for typed, schema in zip(types, schemas):
                compare(typed, schema, "%s %s" % (method, part), problems)
    assert problems == []


def test_the_comparison_reports_each_kind_of_difference():
    class Sample(typing.TypedDict):
        a: int
        b: str
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "c": {"type": "string"}},
              "required": ["a", "c"]}
    problems = []
    compare(Sample, schema, "sample", problems)
    assert any("'c' is not a field" in problem for problem in problems)
    assert any("'b' of Sample is not in the schema" in problem for problem in problems)
    assert any("required" in problem for problem in problems)


def test_the_shared_generation_fields_are_typed():
    hints = typing.get_type_hints(protocol.SolveParams)
    assert hints["stop"] == typing.List[str]
    assert hints["template"] == typing.Literal["torl", "chat"]
    assert protocol.SolveParams.__required_keys__ == frozenset({"problem"})
    assert "metrics" in protocol.TrainStepResult.__required_keys__
