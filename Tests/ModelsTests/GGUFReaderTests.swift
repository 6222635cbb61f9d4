import Foundation
import XCTest
@testable import Models

final class GGUFReaderTests: XCTestCase {
    func write(_ bytes: [UInt8], name: String = "test.gguf") throws -> String {
        let url = try temporaryDirectory().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func sample(version: UInt32 = 3) -> GGUFBuilder {
        var builder = GGUFBuilder()
        builder.version = version
        builder.alignment = 64
        builder.metadata = [
            ("general.architecture", .string("llama")),
            ("general.alignment", .u32(64)),
            ("llama.block_count", .u32(2)),
            ("llama.offset", .i32(-7)),
            ("llama.rope.freq_base", .f32(10000)),
            ("general.flag", .bool(true)),
            ("general.big", .u64(1 << 40)),
            ("tokenizer.ggml.tokens", .strings(["a", "bc", "<s>"])),
        ]
        builder.tensors = [
            .init(name: "first", ggmlDimensions: [3, 2], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6])),
            .init(name: "second", ggmlDimensions: [32], type: 8, data: [0x00, 0x3C] + [UInt8](repeating: 2, count: 32)),
        ]
        return builder
    }

    func testReadsMetadataTensorTableAndAlignedDataInVersions2And3() throws {
        for version: UInt32 in [2, 3] {
            let gguf = try GGUFFile(path: try write(sample(version: version).bytes()))
            XCTAssertEqual(gguf.version, version)
            XCTAssertEqual(gguf.alignment, 64)
            XCTAssertEqual(try gguf.requiredString("general.architecture"), "llama")
            XCTAssertEqual(try gguf.requiredInt("llama.block_count"), 2)
            XCTAssertEqual(try gguf.optionalInt("llama.offset"), -7)
            XCTAssertEqual(try gguf.optionalDouble("llama.rope.freq_base"), 10000)
            XCTAssertEqual(gguf.metadata["general.flag"], .bool(true))
            XCTAssertEqual(try gguf.optionalInt("general.big"), 1 << 40)
            XCTAssertEqual(try gguf.stringArray("tokenizer.ggml.tokens"), ["a", "bc", "<s>"])
            XCTAssertEqual(gguf.tensors.map(\.name), ["first", "second"])
            let first = try XCTUnwrap(gguf.tensorsByName["first"]), second = try XCTUnwrap(gguf.tensorsByName["second"])
            XCTAssertEqual(first.dimensions, [3, 2])
            XCTAssertEqual(first.fileOffset % 64, 0)
            XCTAssertEqual(second.fileOffset - first.fileOffset, 64)
            XCTAssertEqual(try Dequantize.toFloat32(gguf.data(of: first), type: first.type, count: 6), [1, 2, 3, 4, 5, 6])
            XCTAssertEqual(try Dequantize.toFloat32(gguf.data(of: second), type: .q8_0, count: 32), [Float](repeating: 2, count: 32))
        }
    }

    func testErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) { error in
            guard case .cannotOpen(let path, _)? = error as? ModelFormatError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/model.gguf")
        }
        var badMagic = sample()
        badMagic.magic = Array("GGML".utf8)
        XCTAssertThrowsError(try GGUFFile(path: try write(badMagic.bytes()))) { error in
            guard case .badMagic? = error as? ModelFormatError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try GGUFFile(path: try write(sample(version: 1).bytes()))) { error in
            guard case .unsupportedVersion(_, 1)? = error as? ModelFormatError else { return XCTFail("\(error)") }
        }
        let full = sample().bytes()
        XCTAssertThrowsError(try GGUFFile(path: try write(Array(full.dropLast(40))))) { error in
            guard case .truncated(_, let detail)? = error as? ModelFormatError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("tensor second"), detail)
        }
        XCTAssertThrowsError(try GGUFFile(path: try write(Array(full.prefix(100))))) { error in
            guard case .truncated? = error as? ModelFormatError else { return XCTFail("\(error)") }
        }
        var unknownType = sample()
        unknownType.tensors[1].type = 99
        XCTAssertThrowsError(try GGUFFile(path: try write(unknownType.bytes()))) { error in
            guard case .unsupportedDType(_, "second", "ggml type 99")? = error as? ModelFormatError else { return XCTFail("\(error)") }
        }
    }
}
