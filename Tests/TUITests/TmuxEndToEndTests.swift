import Foundation
import Testing

/// The real `ponder chat` under tmux with the random-weight fixture model: keys in,
/// `capture-pane` out.
enum Tmux {
    static let path: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { path != nil }

    /// The `ponder` that `swift test` built next to the test bundle (as PonderCLITests finds it).
    static var ponder: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if folder.pathExtension == "xctest" || folder.path.contains(".xctest/") {
            while folder.pathExtension != "xctest" { folder.deleteLastPathComponent() }
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("ponder")
    }

    static func quote(_ argument: String) -> String { "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs tmux through `system` (which waits for the tmux client itself: the server it forks
    /// keeps the client's output open, so waiting for the end of a pipe would hang).
    @discardableResult
    static func run(_ socket: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tmux-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: file) }
        let command = "env -u TMUX LANG=C.UTF-8 " + ([path!, "-L", socket, "-f", "/dev/null"] + arguments).map(quote)
            .joined(separator: " ") + " </dev/null >" + quote(file.path) + " 2>&1"
        let status = system(command)
        let data = (try? Data(contentsOf: file)) ?? Data()
        return (status == -1 ? -1 : (status >> 8) & 0xFF, String(decoding: data, as: UTF8.self))
    }

    /// One test's tmux server (its own socket) and scratch home; `close()` removes both.
    struct Session {
        let socket: String
        let home: String

        init(_ name: String) {
            socket = "ponder-\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
            home = FileManager.default.temporaryDirectory.appendingPathComponent(socket).path
        }

        /// Starts the built `ponder` with `arguments` in a `width`×`height` window, its config
        /// and data folders in the scratch home; `environment` goes to `env` first (`NO_COLOR=1`,
        /// `-u NO_COLOR`).
        func start(_ arguments: [String], environment: [String] = [], width: Int, height: Int) throws {
            let command = (["env"] + environment + ["XDG_CONFIG_HOME=\(home)/config", "XDG_DATA_HOME=\(home)/data",
                                                    Tmux.ponder.path] + arguments).map(Tmux.quote).joined(separator: " ")
            let started = Tmux.run(socket, ["new-session", "-d", "-s", "ponder", "-x", "\(width)", "-y", "\(height)",
                                            command + "; sleep 2"])
            try #require(started.status == 0, "tmux could not start a session: \(started.output)")
        }

        /// Types `text` into the input line and presses Enter.
        func ask(_ text: String) {
            Tmux.run(socket, ["send-keys", "-t", "ponder", "-l", text])
            Tmux.run(socket, ["send-keys", "-t", "ponder", "Enter"])
        }

        func close() {
            Tmux.run(socket, ["kill-server"])
            try? FileManager.default.removeItem(atPath: home)
        }
    }
}

@Suite("ponder chat under tmux", .serialized)
struct TmuxEndToEndTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../InferenceTests/Fixtures/vision").standardized.path

    /// Polls the pane until `predicate` holds; returns the last capture.
    static func waitFor(_ socket: String, seconds: Double = 60, _ predicate: (String) -> Bool) -> (Bool, String) {
        let deadline = Date().addingTimeInterval(seconds)
        var screen = ""
        while Date() < deadline {
            screen = Tmux.run(socket, ["capture-pane", "-p", "-t", "ponder"]).output
            if predicate(screen) { return (true, screen) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return (false, screen)
    }

    @Test(.enabled(if: Tmux.available, "tmux is not installed: skipping the end-to-end test of ponder chat"))
    func headersToggleAndPick() throws {
        let tmux = Tmux.Session("test")
        defer { tmux.close() }
        let socket = tmux.socket
        try tmux.start(["chat", "--model", Self.fixtures + "/text-llama.gguf", "--mmproj", Self.fixtures + "/siglip-idefics3.gguf",
                        "--image", Self.fixtures + "/square56.png", "--strategy", "stage-beam", "--beam", "2", "--max-tokens", "4",
                        "--seed", "7", "--no-stage-instruction", "--threads", "1"],
                       environment: ["-u", "NO_COLOR"], width: 100, height: 30)

        let (loaded, start) = Self.waitFor(socket) { $0.contains("square56.png") && $0.contains("›") }
        try #require(loaded, "the app did not open:\n\(start)")

        tmux.ask("What is it?")
        // The judge's choices depend on the random weights: the headers show some "n/2".
        let headers = ["▸ Summary · done · ◀ ", "▸ Caption · done · ◀ ", "▸ Reasoning · done · ◀ ",
                       "▾ Conclusion · done · ◀ "]
        let (answered, answer) = Self.waitFor(socket) { screen in headers.allSatisfy { screen.contains($0) } }
        #expect(answered, "the four stage headers did not appear:\n\(answer)")

        // Tab Tab focuses the caption; Ctrl-O expands it.
        Tmux.run(socket, ["send-keys", "-t", "ponder", "Tab", "Tab", "C-o"])
        let (toggled, expanded) = Self.waitFor(socket, seconds: 60) { $0.contains("▾ Caption · done") }
        #expect(toggled, "the caption did not expand:\n\(expanded)")

        // Ctrl-X compares its candidates; 2 takes the second, and the later stages regenerate.
        Tmux.run(socket, ["send-keys", "-t", "ponder", "C-x"])
        let (compared, compare) = Self.waitFor(socket, seconds: 60) { $0.contains("Caption · 2 candidates") }
        #expect(compared, "the compare view did not open:\n\(compare)")
        // Take the candidate the judge did not choose (★ marks its choice).
        let other = compare.contains("▶ 1 ★") ? "2" : "1"
        Tmux.run(socket, ["send-keys", "-t", "ponder", other])
        let (picked, branch) = Self.waitFor(socket) {
            $0.contains("(branch 2/2)") && $0.contains("Caption · done · picked · ◀ \(other)/2 ▶")
                && $0.contains("▾ Conclusion · done")
        }
        #expect(picked, "picking candidate 2 did not branch:\n\(branch)")

        // Ctrl-C twice quits: the pane's command moves on to the `sleep` after it.
        Tmux.run(socket, ["send-keys", "-t", "ponder", "C-c", "C-c"])
        let deadline = Date().addingTimeInterval(30)
        var running = true
        while running && Date() < deadline {
            let pane = Tmux.run(socket, ["list-panes", "-t", "ponder", "-F", "#{pane_current_command}"])
            running = pane.status == 0 && pane.output.contains("ponder")
            if running { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(!running, "ponder did not quit on Ctrl-C Ctrl-C")
    }

    /// `ponder chat --server` against the real server `make test-server` starts (skipped without one).
    @Test(.enabled(if: Tmux.available && ProcessInfo.processInfo.environment["PONDER_SERVER_URL"] != nil,
                   "no server (PONDER_SERVER_URL) or no tmux: skipping ponder chat --server"))
    func chatOverAServer() throws {
        let url = ProcessInfo.processInfo.environment["PONDER_SERVER_URL"] ?? ""
        let tmux = Tmux.Session("server")
        defer { tmux.close() }
        let socket = tmux.socket
        try tmux.start(["chat", "--server", url, "--strategy", "stage-beam", "--beam", "2", "--judge", "self", "--max-tokens", "8",
                        "--seed", "7", "--no-stage-instruction"], width: 160, height: 30)
        let (opened, start) = Self.waitFor(socket) { $0.contains("›") && $0.contains("ponder-demo") }
        try #require(opened, "the app did not open on the served model:\n\(start)")
        tmux.ask("How many red circles are there?")
        let headers = ["Summary · done", "Caption · done", "Reasoning · done", "Conclusion · done"]
        let (answered, answer) = Self.waitFor(socket) { screen in headers.allSatisfy { screen.contains($0) } }
        #expect(answered, "the four stages did not stream from the server:\n\(answer)")
        // A second question goes on in the same conversation.
        tmux.ask("And blue ones?")
        // Done when the question is in the conversation, the input line is empty and the app is idle.
        let (followed, second) = Self.waitFor(socket) { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            guard lines.count >= 2, lines[lines.count - 1].contains("Tab/^O stages") else { return false }
            return screen.contains("› And blue ones?") && !lines[lines.count - 2].contains("And blue ones?")
        }
        #expect(followed, "the follow-up question did not finish:\n\(second)")
        Tmux.run(socket, ["send-keys", "-t", "ponder", "C-c", "C-c"])
    }
}
