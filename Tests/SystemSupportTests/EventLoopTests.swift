import CUV
import Foundation
import SystemSupport
import XCTest

/// The one libuv loop thread the RPC server, its clients and the sandbox pool share.
final class EventLoopTests: XCTestCase {
    func testWorkRunsOnTheLoopThreadInOrder() throws {
        let loop = try EventLoop(name: "test.loop")
        let seen = Locked<[Int]>([])
        for index in 0..<100 {
            XCTAssertTrue(loop.execute {
                XCTAssertTrue(loop.isOnLoopThread)
                seen.withLock { $0.append(index) }
            })
        }
        let count = try loop.sync { seen.current.count }
        XCTAssertEqual(count, 100)
        XCTAssertEqual(seen.current, Array(0..<100))
        XCTAssertFalse(loop.isOnLoopThread)
        loop.close()
    }

    func testSyncRethrowsTheWorksError() throws {
        struct Failure: Error, Equatable {}
        let loop = try EventLoop()
        XCTAssertThrowsError(try loop.sync { throw Failure() }) { XCTAssertEqual($0 as? Failure, Failure()) }
        loop.close()
    }

    /// Closing from another thread closes the handles still open (a timer that would keep the loop alive) and
    /// returns once the thread has ended; later work is refused.
    func testCloseFromAnotherThreadEndsTheLoopDespiteOpenHandles() throws {
        let loop = try EventLoop()
        let timer = try loop.sync { () -> UnsafeMutablePointer<uv_timer_t> in
            let timer = allocateHandle(uv_timer_t.self)
            uv_timer_init(loop.raw, timer)
            uv_timer_start(timer, { _ in }, 60_000, 60_000)
            return timer
        }
        loop.close()
        XCTAssertFalse(loop.execute {})
        XCTAssertThrowsError(try loop.sync { 1 }) { error in
            XCTAssertEqual((error as? UVError)?.code, UV_ECANCELED.rawValue)
        }
        freeHandle(timer)
    }

    /// The sandbox pool's path: the loop closes itself from its own thread once its owner has stopped; work queued
    /// before the close still runs, and the thread ends.
    func testCloseFromTheLoopThreadRunsQueuedWorkAndEnds() throws {
        let loop = try EventLoop()
        let ran = Locked(false)
        let ended = expectation(description: "work after close is refused")
        loop.execute {
            loop.execute { ran.withLock { $0 = true } }
            loop.close()
            XCTAssertFalse(loop.execute {})
            ended.fulfill()
        }
        wait(for: [ended], timeout: 10)
        XCTAssertTrue(ran.current)
        XCTAssertThrowsError(try loop.sync { 1 })
    }

    func testErrorsNameTheCallAndTheCode() {
        XCTAssertEqual(UVError(UV_EADDRINUSE.rawValue, "listen").description, "listen failed: address already in use (EADDRINUSE)")
        XCTAssertEqual(uvErrorName(UV_ENOENT.rawValue), "ENOENT (no such file or directory)")
    }
}

/// The wire's null conventions: optional fields always present, non-finite numbers as null, flags as 0 and 1.
final class CodingWrapperTests: XCTestCase {
    struct Report: Codable, Equatable {
        @EncodesNull var note: String?
        @NullWhenNotFinite var loss: Double
        @EncodesAsZeroOrOne var skipped: Bool
    }

    func testEncodesNullsAndFlagsAndReadsThemBack() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let report = Report(note: nil, loss: .nan, skipped: true)
        let text = String(decoding: try encoder.encode(report), as: UTF8.self)
        XCTAssertEqual(text, #"{"loss":null,"note":null,"skipped":1}"#)
        XCTAssertEqual(try JSONDecoder().decode(Report.self, from: Data(text.utf8)), report)
        let missingNote = try JSONDecoder().decode(Report.self, from: Data(#"{"loss":0.5,"skipped":0}"#.utf8))
        XCTAssertEqual(missingNote, Report(note: nil, loss: 0.5, skipped: false))
        XCTAssertThrowsError(try JSONDecoder().decode(Report.self, from: Data(#"{"loss":1,"skipped":2}"#.utf8)))
    }
}
