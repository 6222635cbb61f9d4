import Foundation
import XCTest
import TorlProtocol

/// schemas/ and TorlProtocol describe one wire format: for every method, every property a schema lists is a
/// coding key of the protocol type and every coding key is in the schema, at every level of nesting, and the
/// schema's `required` lists exactly the fields the type needs present (non-optional; for results also the
/// always-present nullable ones, `@Nullable`).
final class SchemaConformanceTests: XCTestCase {
    private static let schemas = SchemaSet(folder: URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("schemas"))

    private func problems<T: Decodable>(_ type: T.Type, file: String, definition: String) throws -> [String] {
        let shape = try Shape.of(type)
        let node = try Self.schemas.definition(definition, in: file)
        var found: [String] = []
        Self.schemas.compare(shape, node, file: file, path: "\(file)#\(definition)", into: &found)
        return found
    }

    private func checkMethod<Method: TorlMethod>(_ method: Method.Type) throws -> [String] {
        let file = Method.method.replacingOccurrences(of: "/", with: ".") + ".json"
        return try problems(Method.Params.self, file: file, definition: "params")
            + problems(Method.Result.self, file: file, definition: "result")
    }

    private func checkNotification<Method: TorlNotification>(_ method: Method.Type) throws -> [String] {
        let file = Method.method.replacingOccurrences(of: "/", with: ".") + ".json"
        return try problems(Method.Params.self, file: file, definition: "params")
    }

    func testEveryMethodsSchemaMatchesItsProtocolTypesBothWays() throws {
        var found: [String] = []
        for method in TorlMethods.requests { found += try checkMethod(method) }
        for notification in TorlMethods.notifications { found += try checkNotification(notification) }
        XCTAssertEqual(found, [], "\n" + found.joined(separator: "\n"))
    }

    func testProgressValuesMatchTheirSchemas() throws {
        let found = try problems(ProgressReport.self, file: "common.json", definition: "progress_report")
            + problems(SolveProgress.self, file: "common.json", definition: "solve_progress")
        XCTAssertEqual(found, [], "\n" + found.joined(separator: "\n"))
    }

    /// Every schema file is some method's: a method added to schemas/ but not to TorlProtocol is caught here.
    func testEverySchemaFileBelongsToAMethod() throws {
        let names = Set(TorlMethods.requests.map { $0.method } + TorlMethods.notifications.map { $0.method })
            .map { $0.replacingOccurrences(of: "/", with: ".") + ".json" }
        XCTAssertEqual(Set(Self.schemas.fileNames).subtracting(["common.json"]), Set(names))
    }

    /// The check itself: a schema missing a field, listing a field the type lacks, or disagreeing on `required`
    /// is reported, each at its path.
    func testTheCheckReportsEachKindOfMismatch() throws {
        struct Inner: Codable { var a: Int; var b: String? }
        struct Outer: Codable { var x: Int; var inner: [Inner]; var gone: Bool? }
        let schema: [String: Any] = [
            "type": "object",
            "properties": [
                "x": ["type": "integer"],
                "extra": ["type": "string"],
                "inner": ["type": "array", "items": ["type": "object",
                                                    "properties": ["a": ["type": "integer"], "b": ["type": "string"]],
                                                    "required": ["a", "b"]]],
            ],
            "required": ["x"],
        ]
        var found: [String] = []
        Self.schemas.compare(try Shape.of(Outer.self), schema, file: "test.json", path: "t", into: &found)
        XCTAssertEqual(Set(found), [
            "t: required in the schema [\"x\"], required by the type [\"inner\", \"x\"]",
            "t: schema properties not in the type: [\"extra\"]; type keys not in the schema: [\"gone\"]",
            "t.inner[]: required in the schema [\"a\", \"b\"], required by the type [\"a\"]",
        ])
    }
}

/// schemas/*.json, read as plain JSON objects, `$ref`s followed.
struct SchemaSet {
    private let files: [String: [String: Any]]
    var fileNames: [String] { Array(files.keys) }

    init(folder: URL) {
        var files: [String: [String: Any]] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasSuffix(".json") {
            if let data = try? Data(contentsOf: folder.appendingPathComponent(name)),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                files[name] = object
            }
        }
        self.files = files
    }

    func definition(_ name: String, in file: String) throws -> [String: Any] {
        guard let defs = files[file]?["$defs"] as? [String: Any], let node = defs[name] as? [String: Any] else {
            throw SchemaError.missing("\(file)#/$defs/\(name)")
        }
        return node
    }

    /// `node` with its `$ref` followed (the node's own keywords win over the target's) and, for a union
    /// (`anyOf`/`oneOf`, e.g. an object or null), its one object variant.
    private func resolved(_ node: [String: Any], file: String) -> (node: [String: Any], file: String) {
        var node = node, file = file
        if let ref = node["$ref"] as? String {
            let parts = ref.components(separatedBy: "#/$defs/")
            let target = parts[0].isEmpty ? file : parts[0]
            if parts.count == 2, let defs = files[target]?["$defs"] as? [String: Any],
               let referenced = defs[parts[1]] as? [String: Any] {
                let inner = resolved(referenced, file: target)
                var merged = inner.node
                for (key, value) in node where key != "$ref" { merged[key] = value }
                node = merged
                file = inner.file
            }
        }
        for union in ["anyOf", "oneOf"] {
            guard let variants = node[union] as? [[String: Any]] else { continue }
            let objects = variants.map { resolved($0, file: file) }.filter { isObject($0.node) || $0.node["items"] != nil }
            if objects.count == 1 { return objects[0] }
        }
        return (node, file)
    }

    private func isObject(_ node: [String: Any]) -> Bool {
        if node["properties"] != nil { return true }
        if let type = node["type"] as? String { return type == "object" }
        if let types = node["type"] as? [String] { return types.contains("object") }
        return false
    }

    func compare(_ shape: Shape, _ raw: [String: Any], file: String, path: String, into problems: inout [String]) {
        let (node, file) = resolved(raw, file: file)
        switch shape {
        case .scalar, .map:
            return
        case .array(let element):
            guard let items = node["items"] as? [String: Any] else {
                if case .scalar = element { return }
                problems.append("\(path): an array in the type; the schema gives no items")
                return
            }
            compare(element, items, file: file, path: path + "[]", into: &problems)
        case .object(let fields):
            guard let properties = node["properties"] as? [String: Any] else {
                problems.append("\(path): the schema lists no properties; the type has \(fields.keys.sorted())")
                return
            }
            let schemaKeys = Set(properties.keys), typeKeys = Set(fields.keys)
            if schemaKeys != typeKeys {
                problems.append("\(path): schema properties not in the type: \(schemaKeys.subtracting(typeKeys).sorted()); type keys not in the schema: \(typeKeys.subtracting(schemaKeys).sorted())")
            }
            let schemaRequired = Set(node["required"] as? [String] ?? [])
            let typeRequired = Set(fields.filter { $0.value.required }.keys)
            if schemaRequired != typeRequired {
                problems.append("\(path): required in the schema \(schemaRequired.sorted()), required by the type \(typeRequired.sorted())")
            }
            for name in schemaKeys.intersection(typeKeys).sorted() {
                guard let child = properties[name] as? [String: Any], let field = fields[name] else { continue }
                compare(field.shape, child, file: file, path: "\(path).\(name)", into: &problems)
            }
        }
    }
}

enum SchemaError: Error { case missing(String) }
