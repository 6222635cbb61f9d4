import Foundation
import Tensors
import XCTest
@testable import Cluster

/// Gloo collectives between ranks on threads of this process, meeting through a rendezvous folder: the results
/// are checked against sums and extrema computed here by hand.
final class ProcessGroupTests: XCTestCase {
    /// Deterministic values for (rank, index): distinct per rank, with signs and magnitudes that make the order
    /// of a float sum matter.
    private func value(rank: Int, index: Int) -> Float {
        let x = Float((index * 7919 + rank * 104_729) % 20_011) / 20_011
        return (x - 0.5) * Float(1 + rank) * (index % 3 == 0 ? 1000 : 0.001)
    }

    func testSumOfAGradientSizedBufferOverThreeRanksMatchesTheSumByHandWithTheSameBitsOnEveryRank() throws {
        let folder = try rendezvousFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // More than one 1 MiB segment per rank, and not a multiple of the rank count.
        let count = 3 * 262_144 + 17
        let results = runRanks(3) { rank -> [Float] in
            let group = try ProcessGroup(store: .folder(folder), prefix: "sum", rank: rank, worldSize: 3, timeoutSeconds: 30)
            let buffer = FloatBuffer(count: count)
            for i in 0..<count { buffer[i] = self.value(rank: rank, index: i) }
            try group.allReduceSum(buffer)
            return buffer.array()
        }
        let outputs = try results.map { try $0.get() }
        XCTAssertEqual(outputs[0].map(\.bitPattern), outputs[1].map(\.bitPattern))
        XCTAssertEqual(outputs[0].map(\.bitPattern), outputs[2].map(\.bitPattern))
        var largestError: Double = 0
        for i in 0..<count {
            let exact = (0..<3).reduce(0.0) { $0 + Double(value(rank: $1, index: i)) }
            let bound = (0..<3).reduce(0.0) { $0 + abs(Double(value(rank: $1, index: i))) }
            // Two f32 additions in some order: each rounds by at most half an ulp of a partial sum.
            largestError = max(largestError, abs(Double(outputs[0][i]) - exact) / max(bound, 1e-30))
        }
        XCTAssertLessThan(largestError, 2 * Double(Float.ulpOfOne))
    }

    func testDoubleSumsMaximaAndRangesOverTwoRanks() throws {
        let folder = try rendezvousFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let results = runRanks(2) { rank -> ([Double], [Double], UInt64, UInt64) in
            let group = try ProcessGroup(store: .folder(folder), prefix: "small", rank: rank, worldSize: 2)
            var sums = [1.5 + Double(rank), -Double(rank) * 1e-300, 1e16 + Double(rank)]
            try group.allReduceSum(&sums)
            var maxima = [Double(rank) * 2 - 1, .infinity * (rank == 0 ? 1 : -1)]
            try group.allReduceMaximum(&maxima)
            let range = try group.allReduceRange(rank == 0 ? 0xdead_beef_0000_0001 : 7)
            return (sums, maxima, range.minimum, range.maximum)
        }
        for result in results {
            let (sums, maxima, minimum, maximum) = try result.get()
            XCTAssertEqual(sums, [4, -1e-300, 2e16 + 1])
            XCTAssertEqual(maxima, [1, .infinity])
            XCTAssertEqual(minimum, 7)
            XCTAssertEqual(maximum, 0xdead_beef_0000_0001)
        }
    }

    func testAGroupOfOneNeedsNoPeers() throws {
        let folder = try rendezvousFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let group = try ProcessGroup(store: .folder(folder), prefix: "alone", rank: 0, worldSize: 1)
        let buffer = FloatBuffer(count: 3)
        buffer[1] = 2.5
        try group.allReduceSum(buffer)
        XCTAssertEqual(buffer.array(), [0, 2.5, 0])
    }

    func testFormationErrorsNameTheProblem() throws {
        func message(_ body: () throws -> ProcessGroup) -> String {
            do {
                _ = try body()
                return "formed"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message { try ProcessGroup(store: .folder("/nonexistent/torl"), prefix: "p", rank: 0, worldSize: 2) }
            .contains("rendezvous folder /nonexistent/torl does not exist"))
        let folder = try rendezvousFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        XCTAssertTrue(message { try ProcessGroup(store: .folder(folder), prefix: "p", rank: 2, worldSize: 2) }
            .contains("rank 2 is outside a group of 2"))
        XCTAssertTrue(message { try ProcessGroup(store: .folder(folder), prefix: "has space", rank: 0, worldSize: 1) }
            .contains("prefix"))
        XCTAssertTrue(message { try ProcessGroup(store: .tcp("127.0.0.1"), prefix: "p", rank: 0, worldSize: 2) }
            .contains("is not host:port"))
        // Rank 1 never comes: rank 0 gives up after its timeout, naming the group.
        let started = Date()
        let lonely = message { try ProcessGroup(store: .folder(folder), prefix: "lonely", rank: 0, worldSize: 2,
                                                timeoutSeconds: 1) }
        XCTAssertTrue(lonely.contains("cannot form the process group 'lonely'"), lonely)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    func testALostPeerFailsTheCollectiveInsteadOfHanging() throws {
        let folder = try rendezvousFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let results = runRanks(2) { rank -> String in
            let group = try ProcessGroup(store: .folder(folder), prefix: "lost", rank: rank, worldSize: 2,
                                         timeoutSeconds: 2)
            var values = [1.0]
            try group.allReduceSum(&values)  // both ranks are fully connected after this one
            if rank == 1 { return "left" }  // leaves without taking part: its group closes its connections
            do {
                try group.allReduceSum(&values)
                return "completed"
            } catch {
                return "\(error)"
            }
        }
        let rank0 = try results[0].get()
        XCTAssertTrue(rank0.contains("all-reduce failed"), rank0)
    }
}
