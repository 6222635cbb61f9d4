import Foundation
import XCTest
@testable import Sandbox

/// The hostile inputs of docs/SANDBOX.md, each with its expected outcome, no survivors, and a pool that
/// still serves afterwards (checked by `runHostile`).
final class HostileInputTests: XCTestCase {
    // 1
    func testInfiniteLoopIsKilledAtTheTimeLimitKeepingPartialOutput() async throws {
        let result = try await runHostile("print('started', flush=True)\nwhile True: pass")
        XCTAssertEqual(result.status, .timeout, "\(result)")
        XCTAssertEqual(result.stdout, "started\n")
        XCTAssertGreaterThanOrEqual(result.wallMs, 1500)
        XCTAssertLessThan(result.wallMs, 1500 + 200 + 1500, "killed long after the limit")
    }

    // 2
    func testSleepIsKilledAtTheWallClockLimit() async throws {
        var limits = SharedTestPool.limits
        limits.wallTimeoutSeconds = 1
        let result = try await runHostile("import time\nprint('before', flush=True)\ntime.sleep(1000)", limits: limits)
        XCTAssertEqual(result.status, .timeout, "\(result)")
        XCTAssertEqual(result.signal, Int(SIGKILL))
        XCTAssertEqual(result.stdout, "before\n")
        XCTAssertLessThan(result.cpuMs ?? .infinity, 500, "a sleeping run should use little CPU")
        XCTAssertGreaterThanOrEqual(result.wallMs, 1000)
        XCTAssertLessThan(result.wallMs, 1000 + 200 + 1500)
    }

    // 3
    func testForkBombHitsTheProcessCapAndLeavesNothing() async throws {
        let result = try await runHostile("import os\nwhile 1: os.fork()")
        XCTAssertTrue([.error, .killed, .timeout].contains(result.status), "\(result)")
        XCTAssertTrue(result.stderr.contains("Resource temporarily unavailable"),
                      "the process cap (EAGAIN from fork) was never hit: \(result.stderr.prefix(300))")
    }

    // 4
    func testMemoryBombRaisesMemoryError() async throws {
        let result = try await runHostile("x = ' ' * 10**10\nprint(len(x))")
        XCTAssertEqual(result.status, .memory, "\(result)")
        XCTAssertEqual(lastLine(of: result.stderr), "MemoryError")
    }

    // 5
    func testOutputFloodIsCappedAndKilledWithoutDeadlock() async throws {
        let result = try await runHostile("while True: print('x' * 1000)")
        XCTAssertEqual(result.status, .outputLimit, "\(result.status) \(result.message ?? "")")
        XCTAssertTrue(result.truncated)
        XCTAssertEqual(result.stdout.utf8.count + result.stderr.utf8.count, 1 << 20)
        XCTAssertLessThan(result.wallMs, 1500, "the flood was stopped by the time limit, not by the cap")
        XCTAssertTrue(result.stdout.hasPrefix(String(repeating: "x", count: 1000) + "\n"))
    }

    func testLargeSingleWriteIsNotMistakenForATimeout() async throws {
        let result = try await runHostile("print('y' * 200_000)")
        XCTAssertEqual(result.status, .ok, "\(result.status)")
        XCTAssertEqual(result.stdout.utf8.count, 200_001)
    }

    // 6
    func testNoSecretsAndNoDaemonEnvironmentAreVisible() async throws {
        let code = """
        import os
        print(sorted(os.environ))
        print(open('/proc/self/environ', 'rb').read())
        for path in ('/etc/shadow', '/proc/1/environ', '/proc/%d/environ' % os.getppid()):
            try:
                data = open(path, 'rb').read()
                print('READ', path, len(data), data[:200])
            except OSError as e:
                print('DENIED', path, type(e).__name__)
        """
        let result = try await runHostile(code)
        XCTAssertEqual(result.status, .ok, "\(result)")
        XCTAssertFalse(result.stdout.contains(SharedTestPool.secretName), result.stdout)
        XCTAssertFalse(result.stdout.contains(SharedTestPool.secretValue), result.stdout)
        XCTAssertFalse(result.stdout.contains("READ /etc/shadow"), result.stdout)
        XCTAssertFalse(result.stdout.contains("TORL_PYTHON"), result.stdout)
        XCTAssertTrue(result.stdout.contains("DENIED /etc/shadow"), result.stdout)
        let environment = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
        let expected = (Array(SandboxEnvironment.run.keys) + ["HOME", "TMPDIR"]).sorted()
        XCTAssertEqual(environment, "[" + expected.map { "'\($0)'" }.joined(separator: ", ") + "]")
    }

    // 7
    func testWritesOutsideTheWorkDirAreRefusedOrPrivateAndTheWorkDirIsWiped() async throws {
        let marker = "torl-escape-\(getpid())"
        let write = """
        import os
        open('left_behind.txt', 'w').write('x')
        open('/tmp/\(marker)', 'w').write('x')
        print(os.getcwd())
        for path in ('/\(marker)', '/etc/\(marker)', os.path.expanduser('~root/\(marker)')):
            try:
                open(path, 'w').write('x')
                print('WROTE', path)
            except OSError as e:
                print('REFUSED', path, type(e).__name__)
        """
        let first = try await runHostile(write)
        XCTAssertEqual(first.status, .ok, "\(first)")
        XCTAssertFalse(first.stdout.contains("WROTE"), first.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/\(marker)"), "a run wrote into the host's /tmp")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/\(marker)"))
        let pool = try await sharedPool()
        let second = await pool.execute("import os\nprint(sorted(os.listdir('.')), os.path.exists('/tmp/\(marker)'))")
        XCTAssertEqual(second.stdout, "['main.py'] False\n", "the work dir or private /tmp was not wiped")
    }

    /// An interpreter in a virtual environment under /tmp used to keep the host's /tmp shared with every run (a run
    /// wrote into it and the next run saw it). Now /tmp is private all the same: the environment's directory is
    /// bind-mounted back read-only into the private tmpfs, survives the wipe, and nothing else of the host's /tmp
    /// is visible or writable.
    func testAnInterpreterUnderTmpStillGetsAPrivateTmp() async throws {
        let base = SandboxConfiguration.defaultPythonPath()
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: base)
        probe.arguments = ["-c", "import sys, sysconfig; print(sys.base_prefix); print(sysconfig.get_paths()['purelib'])"]
        let pipe = Pipe()
        probe.standardOutput = pipe
        try probe.run()
        probe.waitUntilExit()
        let lines = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        guard probe.terminationStatus == 0, lines.count == 2 else { return XCTFail("cannot read \(base)'s paths") }
        // A venv in /tmp whose python is the base interpreter's, seeing the configured interpreter's packages
        // (numpy, sympy) through a .pth file: made in milliseconds, no download.
        let venv = "/tmp/torl-venv-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: venv) }
        let make = Process()
        make.executableURL = URL(fileURLWithPath: base)
        make.arguments = ["-m", "venv", "--without-pip", venv]
        try make.run()
        make.waitUntilExit()
        XCTAssertEqual(make.terminationStatus, 0)
        let purelib = try FileManager.default.subpathsOfDirectory(atPath: "\(venv)/lib")
            .first { $0.hasSuffix("site-packages") }.map { "\(venv)/lib/\($0)" }
        try "\(lines[1])\n".write(toFile: "\(try XCTUnwrap(purelib))/configured.pth", atomically: true, encoding: .utf8)
        let hostFile = "/tmp/torl-host-\(getpid())"
        try "host".write(toFile: hostFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: hostFile) }

        var configuration = SharedTestPool.configuration(poolSize: 1)
        configuration.pythonPath = "\(venv)/bin/python"
        let pool = try SandboxPool(configuration: configuration)
        try await pool.waitUntilReady()
        let isolation = await pool.status().isolation
        XCTAssertEqual(isolation?.privateTmp.contains("/tmp"), true, "\(String(describing: isolation))")
        XCTAssertEqual(isolation?.interpreterBinds, [venv])
        let marker = "torl-escape-\(getpid())"
        let first = await pool.execute("""
        import os, sys, numpy
        open('/tmp/\(marker)', 'w').write('x')
        print(sys.prefix, os.path.exists('\(hostFile)'))
        try:
            open('\(venv)/planted', 'w').write('x')
            print('WROTE')
        except OSError as e:
            print('REFUSED', type(e).__name__)
        """)
        XCTAssertEqual(first.stdout, "\(venv) False\nREFUSED OSError\n", "\(first)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/\(marker)"), "a run wrote into the host's /tmp")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(venv)/planted"))
        let second = await pool.execute("import os\nprint(os.path.exists('/tmp/\(marker)'), os.path.isdir('\(venv)/bin'))")
        XCTAssertEqual(second.stdout, "False True\n", "\(second)")
        await pool.shutdown()
    }

    func testTenGigabyteFileIsCappedByTheFileSizeLimit() async throws {
        let code = """
        chunk = b'z' * (1 << 20)
        with open('big.bin', 'wb') as f:
            for _ in range(10 * 1024):
                f.write(chunk)
        """
        let result = try await runHostile(code)
        XCTAssertEqual(result.status, .error, "\(result)")
        XCTAssertEqual(lastLine(of: result.stderr), "OSError: [Errno 27] File too large")
    }

    // 8
    func testNetworkIsUnreachable() async throws {
        let pool = try await sharedPool()
        let isolation = await pool.status().isolation
        XCTAssertEqual(isolation?.network, true, "network isolation is not active here: \(String(describing: isolation))")
        let listener = try LoopbackListener()
        defer { listener.close() }
        let code = """
        import socket, urllib.request
        try:
            socket.create_connection(('127.0.0.1', \(listener.port)), timeout=1)
            print('CONNECTED')
        except OSError as e:
            print('socket', type(e).__name__, e.errno)
        try:
            urllib.request.urlopen('http://example.com', timeout=1)
            print('FETCHED')
        except Exception as e:
            print('urlopen', type(e).__name__)
        """
        let result = try await runHostile(code)
        XCTAssertEqual(result.status, .ok, "\(result)")
        XCTAssertFalse(result.stdout.contains("CONNECTED"), result.stdout)
        XCTAssertFalse(result.stdout.contains("FETCHED"), result.stdout)
        XCTAssertTrue(result.stdout.contains("socket OSError 101"), "expected ENETUNREACH: \(result.stdout)")
        XCTAssertFalse(listener.acceptedAnyConnection(), "the run reached the host's loopback")
    }

    // 9
    func testKillingTheParentOrEveryoneLeavesThePoolRunning() async throws {
        let parent = try await runHostile("import os\nos.kill(os.getppid(), 9)\nprint('alive')")
        XCTAssertTrue([.ok, .killed].contains(parent.status), "\(parent)")
        let everyone = try await runHostile("import os\ntry:\n    os.kill(-1, 9)\nexcept OSError as e:\n    print(type(e).__name__)\nprint('alive')")
        XCTAssertTrue([.ok, .killed].contains(everyone.status), "\(everyone)")
        let status = await (try sharedPool()).status()
        XCTAssertEqual(status.workersAlive, status.poolSize)
    }

    func testEscapedSessionChildrenDoNotOutliveTheRun() async throws {
        let marker = "987.\(getpid() % 1000)"
        let code = """
        import os, subprocess
        subprocess.Popen(['sleep', '\(marker)'], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp('sleep', ['sleep', '\(marker)'])
            os._exit(0)
        print('spawned')
        """
        let result = try await runHostile(code, marker: "sleep \(marker)")
        XCTAssertEqual(result.status, .ok, "\(result)")
        XCTAssertEqual(result.stdout, "spawned\n")
    }

    // 10
    func testExitStatusesAreReportedWithOutputPreserved() async throws {
        let exit3 = try await runHostile("import sys\nprint('out')\nsys.exit(3)")
        XCTAssertEqual(exit3.status, .error)
        XCTAssertEqual(exit3.exitCode, 3)
        XCTAssertEqual(exit3.stdout, "out\n")
        let hardExit = try await runHostile("import os\nprint('kept')\nos._exit(0)")
        XCTAssertEqual(hardExit.status, .ok)
        XCTAssertEqual(hardExit.exitCode, 0)
        XCTAssertEqual(hardExit.stdout, "kept\n")
    }

    func testIgnoredSIGTERMIsFollowedBySIGKILLAfterTheGrace() async throws {
        var limits = SharedTestPool.limits
        limits.wallTimeoutSeconds = 1
        let code = """
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(1000)
        print('ignoring', flush=True)
        time.sleep(1000)
        """
        let result = try await runHostile(code, limits: limits)
        XCTAssertEqual(result.status, .timeout, "\(result)")
        XCTAssertEqual(result.signal, Int(SIGKILL))
        XCTAssertEqual(result.stdout, "ignoring\n")
        XCTAssertGreaterThanOrEqual(result.wallMs, 1000 + 200, "SIGKILL came before the grace period ended")
    }

    // 11
    func testDeepRecursionAndSegfaultAreReportedAsSuch() async throws {
        let recursion = try await runHostile("def f(n):\n    return f(n + 1)\nf(0)")
        XCTAssertEqual(recursion.status, .error)
        XCTAssertEqual(lastLine(of: recursion.stderr), "RecursionError: maximum recursion depth exceeded")
        let segfault = try await runHostile("import ctypes\nctypes.string_at(0)")
        XCTAssertEqual(segfault.status, .killed, "\(segfault)")
        XCTAssertEqual(segfault.signal, Int(SIGSEGV))
    }

    // 12
    func testInvalidUTF8NulBytesAndHugeSources() async throws {
        let binary = try await runHostile("import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe \\x00 end\\n')")
        XCTAssertEqual(binary.status, .ok)
        XCTAssertEqual(binary.stdout, "ok \u{FFFD}\u{FFFD} \u{0} end\n")
        let nul = try await runHostile("print(1)\u{0}print(2)")
        XCTAssertEqual(nul.status, .error, "\(nul)")
        XCTAssertTrue(lastLine(of: nul.stderr)?.hasPrefix("SyntaxError") == true, nul.stderr)
        let pool = try await sharedPool()
        let huge = await pool.execute("x = 1\n" + String(repeating: "#", count: 10 << 20))
        XCTAssertEqual(huge.status, .rejected)
        XCTAssertEqual(huge.message, "source is \(6 + (10 << 20)) bytes; the limit is \(1 << 20) bytes")
    }

    // 14
    func testNoStateLeaksBetweenRuns() async throws {
        let pool = try await sharedPool()
        let setter = """
        import sympy, math
        secret_global = 12345
        sympy.LEAKED = True
        math.pi = 3
        import builtins
        builtins.leaked_builtin = 1
        print('set')
        """
        // Run on every worker so the reader cannot land on a worker that never ran the setter.
        let poolSize = await pool.status().poolSize
        let setters = await withTaskGroup(of: ExecutionResult.self) { group in
            for _ in 0..<poolSize { group.addTask { await pool.execute(setter + "\nimport time; time.sleep(0.3)") } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(setters.map(\.stdout), Array(repeating: "set\n", count: poolSize))
        let reader = """
        import sympy, math, builtins
        print('secret_global' in globals(), hasattr(sympy, 'LEAKED'), math.pi, hasattr(builtins, 'leaked_builtin'))
        """
        for _ in 0..<(2 * poolSize) {
            let result = await pool.execute(reader)
            XCTAssertEqual(result.stdout, "False False 3.141592653589793 False\n")
        }
    }
}

/// A TCP listener on the host's loopback that records whether anything connected.
final class LoopbackListener {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(descriptor, pointer, length) == 0, listen(descriptor, 8) == 0 else { return -1 }
                return getsockname(descriptor, pointer, &length)
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        port = UInt16(bigEndian: address.sin_port)
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    func acceptedAnyConnection() -> Bool {
        let client = accept(descriptor, nil, nil)
        if client >= 0 { Glibc.close(client) }
        return client >= 0
    }

    func close() { Glibc.close(descriptor) }
}
