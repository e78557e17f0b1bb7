import Foundation
import Testing
@testable import TensorFiles
#if canImport(Glibc)
import Glibc
#endif

// Oracles: the file system itself (lstat kinds, contents read back with Foundation, directory
// listings for leftover temporary files), and hand-written expected bytes.

/// A fresh empty directory under /tmp, removed by `cleanup()`.
struct Scratch {
    let dir: String
    init(_ tag: String = #function) throws {
        let base = FileManager.default.temporaryDirectory.path
        let clean = tag.filter { $0.isLetter || $0.isNumber }
        dir = base + "/tf-\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { dir + "/" + name }
    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }
    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}

func kind(_ path: String) -> FileKind? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return FileKind(mode: st.st_mode)
}

func contents(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

@Suite("OutputFile: the atomic writer")
struct OutputFileTests {
    @Test("a new file is created; an existing regular file is replaced; no temporary file remains")
    func regularTargets() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("out.csv")
        try OutputFile.write("a,b\n1,2\n", to: p)
        #expect(contents(p) == Array("a,b\n1,2\n".utf8))
        // Replace, and check the inode changed (rename, not overwrite in place).
        var st0 = stat(); _ = lstat(p, &st0)
        chmod(p, 0o640)
        try OutputFile.write("new", to: p)
        var st1 = stat(); _ = lstat(p, &st1)
        #expect(contents(p) == Array("new".utf8))
        #expect(st0.st_ino != st1.st_ino, "the file was replaced by rename")
        #expect(st1.st_mode & 0o777 == 0o640, "the replaced file's permission bits are kept")
        #expect(s.entries() == ["out.csv"])
    }

    @Test("the old content stays until commit; a reader never sees a partial file")
    func oldUntilCommit() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("w.bin")
        try OutputFile.write(Data([1, 2, 3]), to: p)
        let f = try OutputFile(p)
        try f.setSize(1 << 20)
        try f.write(Data(repeating: 7, count: 1000), at: 5000)
        #expect(contents(p) == [1, 2, 3], "target untouched before commit")
        #expect(f.temporaryPath.hasPrefix(s.dir + "/.w.bin.tmp-"))
        try f.commit()
        let c = try #require(contents(p))
        #expect(c.count == 1 << 20)
        #expect(c[4999] == 0 && c[5000] == 7 && c[5999] == 7 && c[6000] == 0)
        #expect(s.entries() == ["w.bin"])
        #expect(throws: OutputFileError.finished(path: p)) { try f.commit() }
    }

    @Test("streaming through a shared mapping, several threads at disjoint ranges")
    func mappedStreaming() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("m.bin")
        let n = 4 << 20
        let f = try OutputFile(p)
        try f.setSize(n)
        let m = try f.map()
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            m.withUnsafeMutableBytes { buf in
                let part = n / 4
                for i in (t * part)..<((t + 1) * part) where i % 4096 == 0 { buf[i] = UInt8(t + 1) }
            }
        }
        m.unmap()
        try f.commit()
        let c = try #require(contents(p))
        #expect(c.count == n)
        for t in 0..<4 { #expect(c[t * (n / 4)] == UInt8(t + 1)) }
        #expect(c[1] == 0)
    }

    @Test("the MPI pattern: a second writer opens the owner's temporary file by path")
    func secondWriter() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("shared.bin")
        let owner = try OutputFile(p)
        try owner.setSize(8)
        let other = try OutputFile(openingTemporary: owner.temporaryPath, for: p)
        #expect(!other.isOwner)
        try other.write(Data([5, 6, 7, 8]), at: 4)
        try other.sync()
        #expect(throws: OutputFileError.finished(path: p)) { try other.commit() }
        other.close()
        try owner.write(Data([1, 2, 3, 4]), at: 0)
        try owner.commit()
        #expect(contents(p) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(s.entries() == ["shared.bin"])
    }

    @Test("unfinished temporary files are registered for the signal handler until commit, discard, error or release")
    func signalRegistry() throws {
        // The handler's cleanup itself (unlink of every registered path) is exercised by the
        // CLI's SIGTERM test in a separate process: calling it here would remove the temporary
        // files of tests running concurrently in this process.
        let s = try Scratch(); defer { s.cleanup() }
        let a = try OutputFile(s.path("a.bin")), b = try OutputFile(s.path("b.bin"))
        #expect(TemporaryFiles.registered().contains(a.temporaryPath))
        #expect(TemporaryFiles.registered().contains(b.temporaryPath))
        try a.write(Data([1, 2, 3]), at: 0)
        try a.commit(durable: false)
        #expect(!TemporaryFiles.registered().contains(a.temporaryPath), "committed: unregistered")
        b.discard()
        #expect(!TemporaryFiles.registered().contains(b.temporaryPath), "discarded: unregistered")
        var released = ""
        do { let c = try OutputFile(s.path("c.bin")); released = c.temporaryPath; #expect(TemporaryFiles.registered().contains(released)) }
        #expect(!TemporaryFiles.registered().contains(released), "released: unregistered")
        let d = try OutputFile(s.path("d.bin"))
        #expect(mkfifo(s.path("d.bin"), 0o644) == 0)
        #expect(throws: OutputFileError.self) { try d.commit() }
        #expect(!TemporaryFiles.registered().contains(d.temporaryPath), "failed commit: unregistered")
        // A non-owner (the MPI pattern) never registers the owner's file a second time.
        let e = try OutputFile(s.path("e.bin"))
        let before = TemporaryFiles.registered().filter { $0 == e.temporaryPath }.count
        let other = try OutputFile(openingTemporary: e.temporaryPath, for: s.path("e.bin"))
        other.close()
        #expect(TemporaryFiles.registered().filter { $0 == e.temporaryPath }.count == before)
        e.discard()
        #expect(contents(s.path("a.bin")) == [1, 2, 3])
    }

    @Test("the temporary file is removed on discard, on release and on error")
    func tempRemoved() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("x.json")
        do {
            let f = try OutputFile(p)
            try f.write(Data("{}".utf8), at: 0)
            #expect(s.entries().count == 1)
            f.discard()
            #expect(s.entries().isEmpty)
        }
        do {
            let f = try OutputFile(p)
            _ = f
            #expect(s.entries().count == 1)
        }
        #expect(s.entries().isEmpty, "released without commit: temporary file removed")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try OutputFile.write(size: 4096, to: p) { buf in buf[0] = 1; throw Boom() }
        }
        #expect(s.entries().isEmpty, "fill threw: nothing created")
        // A target that becomes a FIFO between creation and commit is refused; temp removed.
        let f = try OutputFile(p)
        #expect(mkfifo(p, 0o644) == 0)
        #expect(throws: OutputFileError.notRegularFile(path: p, kind: .fifo)) { try f.commit() }
        #expect(kind(p) == .fifo)
        #expect(s.entries() == ["x.json"])
        #expect(throws: OutputFileError.invalidSize(path: s.path("y"), value: -1, rule: "must be ≥ 0 and fit off_t")) {
            let g = try OutputFile(s.path("y")); try g.setSize(-1)
        }
    }

    @Test("non-regular targets are refused before anything is created, and left unchanged")
    func refusedTargets() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let fifo = s.path("fifo"); #expect(mkfifo(fifo, 0o644) == 0)
        let dir = s.path("dir"); try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        let regular = s.path("regular"); try OutputFile.write("keep", to: regular)
        let cases: [(String, OutputFileError)] = [
            ("/dev/null", .notRegularFile(path: "/dev/null", kind: .characterDevice)),
            ("/dev/full", .notRegularFile(path: "/dev/full", kind: .characterDevice)),
            (fifo, .notRegularFile(path: fifo, kind: .fifo)),
            (dir, .notRegularFile(path: dir, kind: .directory)),
        ]
        var links: [(String, OutputFileError)] = []
        for (target, error) in cases {
            let link = s.path("link-to-" + OutputFile.baseName(target))
            #expect(symlink(target, link) == 0)
            guard case let .notRegularFile(_, k) = error else { continue }
            links.append((link, .notRegularFile(path: link, kind: k)))
        }
        let dangling = s.path("dangling"); #expect(symlink(s.path("nothing-here"), dangling) == 0)
        let loop = s.path("loop"); #expect(symlink(loop, loop) == 0)
        links.append((dangling, .danglingSymlink(path: dangling)))
        links.append((loop, .danglingSymlink(path: loop)))
        let before = s.entries()
        for (p, expected) in cases + links {
            #expect(throws: expected) { try OutputFile.write("x", to: p) }
            #expect(throws: expected) { _ = try OutputFile(p) }
            print("refused \(p): \(expected)")
        }
        #expect(s.entries() == before, "nothing created or removed")
        #expect(kind(fifo) == .fifo && kind(dir) == .directory && kind(dangling) == .symbolicLink)
        #expect(kind("/dev/null") == .characterDevice && kind("/dev/full") == .characterDevice)
        #expect(contents(regular) == Array("keep".utf8))
    }

    @Test("a symbolic link to a regular file is written through; the link is kept")
    func symlinkWriteThrough() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let sub = s.path("run3"); try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        let real = sub + "/model.bin"
        try OutputFile.write("old", to: real)
        let link = s.path("latest.bin"); #expect(symlink("run3/model.bin", link) == 0)
        let link2 = s.path("latest2.bin"); #expect(symlink(link, link2) == 0)
        try OutputFile.write("new", to: link2)
        #expect(kind(link) == .symbolicLink && kind(link2) == .symbolicLink)
        #expect(contents(real) == Array("new".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: sub) == ["model.bin"])
    }

    @Test("empty path, missing directory, unwritable directory: typed errors before work")
    func badPaths() throws {
        let s = try Scratch(); defer { s.cleanup() }
        #expect(throws: OutputFileError.emptyPath) { try OutputFile.write("x", to: "") }
        let missing = s.path("no/such/dir/f.svg")
        #expect(throws: OutputFileError.missingDirectory(path: missing, directory: s.path("no/such/dir"))) {
            try OutputFile.write("x", to: missing)
        }
        let file = s.path("file"); try OutputFile.write("f", to: file)
        #expect(throws: OutputFileError.missingDirectory(path: file + "/x", directory: file)) {
            try OutputFile.write("x", to: file + "/x")
        }
        // /proc: the directory exists but no file can be created there.
        #expect(throws: OutputFileError.self) { try OutputFile.write("x", to: "/proc/weightinit-x") }
        // A read-only directory; root bypasses permission bits, so only checked as a normal user.
        let ro = s.path("ro"); try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: false)
        chmod(ro, 0o500)
        if getuid() != 0 {
            #expect(throws: OutputFileError.directoryNotWritable(path: ro + "/f", directory: ro)) {
                try OutputFile.write("x", to: ro + "/f")
            }
        } else {
            print("running as root: the unwritable-directory leg is skipped (root bypasses permission bits)")
        }
        chmod(ro, 0o700)
        // A relative path in the current directory resolves its directory to ".".
        #expect(OutputFile.directoryName("f.svg") == ".")
        #expect(OutputFile.directoryName("/f.svg") == "/")
    }

    @Test("an unfinished writer (as a killed process leaves it) leaves the old file under the final name")
    func unfinishedWriter() throws {
        // A SIGKILL can only stop the process between system calls; until rename(2) the final
        // name is never touched. Simulate the state at the moment of the kill: a large
        // temporary file partly written through a mapping, no commit, descriptor still open.
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("k.bin")
        try OutputFile.write("old", to: p)
        let f = try OutputFile(p)
        try f.setSize(64 << 20)
        let m = try f.map()
        m.withUnsafeMutableBytes { $0[0] = 1 }
        #expect(contents(p) == Array("old".utf8), "the final name still holds the old file")
        #expect(s.entries().count == 2)
        m.unmap(); f.discard()
        #expect(s.entries() == ["k.bin"])
    }
}

/// A small tmpfs mounted on a fresh directory (root only; nil when `mount(2)` is not permitted,
/// e.g. an unprivileged CI runner or a container without CAP_SYS_ADMIN). `unmount()` removes it.
struct SmallFileSystem {
    let dir: String
    init?(megabytes: Int, readOnly: Bool = false, tag: String = #function) {
        let clean = tag.filter { $0.isLetter || $0.isNumber }
        dir = FileManager.default.temporaryDirectory.path + "/tf-fs-\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(dir, 0o755) == 0 else { return nil }
        let flags: UInt = readOnly ? UInt(MS_RDONLY) : 0
        guard mount("tmpfs", dir, "tmpfs", flags, "size=\(megabytes)m,mode=0755") == 0 else {
            print("mount of a \(megabytes) MB tmpfs not permitted (errno \(errno)): test skipped")
            rmdir(dir)
            return nil
        }
    }
    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }
    func unmount() { _ = umount2(dir, Int32(MNT_DETACH)); rmdir(dir) }
}

@Suite("OutputFile: a full disk is an error, not SIGBUS")
struct OutputFileDiskFullTests {
    @Test("map() of a file larger than the free space throws .io(ENOSPC) and removes the temporary file; a fitting one works")
    func diskFull() throws {
        guard let fs = SmallFileSystem(megabytes: 16) else { return }
        defer { fs.unmount() }
        let f = try OutputFile(fs.dir + "/big.bin")
        try f.setSize(32 << 20)                           // sparse: ftruncate succeeds on a 16 MB tmpfs
        do {
            _ = try f.map()
            Issue.record("map() of 32 MB on a 16 MB tmpfs must fail before handing out the mapping")
        } catch let e as OutputFileError {
            print("32 MB on a 16 MB tmpfs: \(e)")
            guard case let .io(_, op, err) = e else { Issue.record("expected .io, got \(e)"); return }
            #expect(err == ENOSPC && op.contains("posix_fallocate"), "\(e)")
        }
        #expect(fs.entries().isEmpty, "temporary file removed: \(fs.entries())")
        // The streaming writer and the whole-content writer: same error, nothing left.
        #expect(throws: OutputFileError.self) { try OutputFile.write(size: 20 << 20, to: fs.dir + "/w.bin") { $0.initializeMemory(as: UInt8.self, repeating: 1) } }
        #expect(fs.entries().isEmpty, "\(fs.entries())")
        // A file that fits is written through the mapping and committed.
        try OutputFile.write(size: 4 << 20, to: fs.dir + "/ok.bin") { $0.initializeMemory(as: UInt8.self, repeating: 7) }
        #expect(fs.entries() == ["ok.bin"])
        let back = FileManager.default.contents(atPath: fs.dir + "/ok.bin")
        #expect(back?.count == 4 << 20 && back?.allSatisfy { $0 == 7 } == true)
    }
}
