"""Writes clients/python/torl_client/protocol.py: one TypedDict per method's params and result (and per nested
object) from the JSON Schemas in schemas/, the wire's truth (checked against the daemon's TorlProtocol types by
TorlProtocolTests). The Python client ships the generated file, so it needs no schema at run time;
clients/python/tests/test_protocol_types.py regenerates it and fails when it differs, and checks every TypedDict
against its schema both ways.

Usage: python scripts/generate_client_types.py [--check]   (--check: exit 1 when the committed file is stale)"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "schemas")
OUTPUT = os.path.join(ROOT, "clients", "python", "torl_client", "protocol.py")
PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def camel(name):
    parts = name.replace("$", "").replace("/", "_").replace(".", "_").split("_")
    return "".join(part[:1].upper() + part[1:] for part in parts if part)


def method_name(file_name):
    """schemas/checkpoint.save.json -> checkpoint/save; $.cancelRequest.json -> $/cancelRequest."""
    return file_name[:-len(".json")].replace(".", "/")


class Generator:
    def __init__(self):
        self.common = self.load("common.json")["$defs"]
        self.classes = {}  # name -> (required fields, optional fields, docstring)
        self.order = []

    @staticmethod
    def load(name):
        with open(os.path.join(SCHEMAS, name), encoding="utf-8") as handle:
            return json.load(handle)

    def type_of(self, schema, name):
        """The Python type of `schema`; objects with properties become TypedDicts named `name`."""
        if "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("common.json#/$defs/"):
                raise ValueError("unsupported $ref %s" % ref)
            key = ref.rsplit("/", 1)[1]
            return self.type_of(self.common[key], camel(key))
        if "const" in schema:
            return "Literal[%s]" % json.dumps(schema["const"])
        if "enum" in schema:
            return "Literal[%s]" % ", ".join(json.dumps(value) for value in schema["enum"])
        for union in ("anyOf", "oneOf"):
            if union in schema:
                members = []
                for index, member in enumerate(schema[union]):
                    member_type = self.type_of(member, "%s%d" % (name, index + 1))
                    if member_type not in members:
                        members.append(member_type)
                return members[0] if len(members) == 1 else "Union[%s]" % ", ".join(members)
        kind = schema.get("type")
        if isinstance(kind, list):
            members = [self.type_of(dict(schema, type=member), name) for member in kind]
            return "Union[%s]" % ", ".join(dict.fromkeys(members))
        if kind == "array":
            return "List[%s]" % self.type_of(schema.get("items", {}), name + "Item")
        if kind == "object" or "properties" in schema:
            if "properties" in schema:
                return self.typed_dict(schema, name)
            extra = schema.get("additionalProperties")
            return "Dict[str, %s]" % (self.type_of(extra, name + "Value") if isinstance(extra, dict) else "Any")
        if kind in PRIMITIVES:
            return PRIMITIVES[kind]
        return "Any"

    def typed_dict(self, schema, name):
        if name in self.classes:
            return name
        self.classes[name] = None  # reserve the name (and stop recursion)
        required = set(schema.get("required", []))
        fields = [(key, self.type_of(value, name + camel(key)), key in required)
                  for key, value in schema["properties"].items()]
        self.classes[name] = (fields, schema.get("description", "").strip())
        self.order.append(name)
        return name

    def generate(self):
        methods = []
        for file_name in sorted(os.listdir(SCHEMAS)):
            if not file_name.endswith(".json") or file_name == "common.json":
                continue
            definitions = self.load(file_name)["$defs"]
            method = method_name(file_name)
            types = {}
            for part in ("params", "result"):
                schema = definitions[part]
                types[part] = self.type_of(schema, camel(method) + camel(part))
            methods.append((method, types["params"], types["result"]))
        return self.render(methods)

    def render(self, methods):
        lines = [
            '"""The daemon\'s wire types: one TypedDict per method\'s params and result, generated from schemas/ by',
            "scripts/generate_client_types.py. Do not edit: regenerate (the test suite fails when this file is stale).",
            '"""',
            "from typing import Any, Dict, List, Literal, TypedDict, Union",
            "",
        ]
        for name in self.order:
            fields, description = self.classes[name]
            required = [(key, kind) for key, kind, is_required in fields if is_required]
            optional = [(key, kind) for key, kind, is_required in fields if not is_required]
            if required and optional:
                lines += ["", "class _%sRequired(TypedDict):" % name]
                lines += ["    %s: %s" % (key, kind) for key, kind in required]
                lines += ["", "", "class %s(_%sRequired, total=False):" % (name, name)]
                body = ["    %s: %s" % (key, kind) for key, kind in optional]
            else:
                lines += ["", "class %s(TypedDict%s):" % (name, "" if required else ", total=False")]
                body = ["    %s: %s" % (key, kind) for key, kind in (required or optional)] or ["    pass"]
            if description:
                body.insert(0, '    """%s"""' % description.replace('"""', "'''").replace("\\", "\\\\"))
            lines += body + [""]
        aliases = []
        for method, params, result in methods:
            for part, kind in (("Params", params), ("Result", result)):
                expected = camel(method) + part
                if kind != expected and kind != "None" and expected not in self.classes:
                    aliases.append("%s = %s" % (expected, kind))
        if aliases:
            lines += ["", "# Methods whose params or result is a shared type, under the method's own name."] + aliases
        lines += ["", "", "# method name -> (params type, result type)", "METHODS = {"]
        lines += ['    "%s": (%s, %s),' % (method, params, result) for method, params, result in methods]
        lines += ["}", ""]
        text = "\n".join(lines)
        while "\n\n\n\n" in text:
            text = text.replace("\n\n\n\n", "\n\n\n")
        return text


def main():
    text = Generator().generate()
    if "--check" in sys.argv[1:]:
        with open(OUTPUT, encoding="utf-8") as handle:
            stale = handle.read() != text
        print("%s is %s" % (OUTPUT, "stale: run scripts/generate_client_types.py" if stale else "up to date"))
        sys.exit(1 if stale else 0)
    with open(OUTPUT, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(OUTPUT)


if __name__ == "__main__":
    main()
