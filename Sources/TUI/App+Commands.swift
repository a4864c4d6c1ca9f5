import Foundation

extension AppState {
    /// The slash commands, for the help overlay.
    public static let commands: [(String, String)] = [
        ("/image PATH", "load another image (Tab completes the path)"),
        ("/server URL", "answer with a server's model (vLLM, SGLang, llama-server, Ollama)"),
        ("/strategy S", "greedy, best-of-n or stage-beam"),
        ("/beam N", "candidates per stage (1–9)"),
        ("/judge J", "self, logprob, first or manual (you pick)"),
        ("/temp T", "sampling temperature (default: 0 greedy, 0.6 else)"),
        ("/save, /load N", "save or load a session as JSON (XDG data dir)"),
        ("/regen", "regenerate the last answer"),
        ("/quit", "quit"),
    ]

    mutating func command(_ line: String) -> [Effect] {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        let name = parts[0].lowercased()
        let argument = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        switch name {
        case "/image":
            guard !argument.isEmpty else { notice = "/image needs a path."; return [] }
            return [.loadImage(PathCompletion.expand(argument))]
        case "/server":
            guard !argument.isEmpty else { notice = "/server needs a URL, like http://127.0.0.1:8000."; return [] }
            notice = "Connecting to \(argument)…"
            return [.connect(server: argument)]
        case "/strategy":
            guard ChatSettings.strategies.contains(argument) else {
                notice = "/strategy takes one of: \(ChatSettings.strategies.joined(separator: ", "))."; return []
            }
            settings.strategy = argument
            notice = "Strategy: \(argument)."
        case "/beam":
            guard let beam = Int(argument), (1...9).contains(beam) else { notice = "/beam takes a number from 1 to 9."; return [] }
            settings.beam = beam
            notice = "Beam: \(beam)."
        case "/judge":
            guard ChatSettings.judges.contains(argument) else {
                notice = "/judge takes one of: \(ChatSettings.judges.joined(separator: ", "))."; return []
            }
            settings.judge = argument
            notice = "Judge: \(argument)."
        case "/temp", "/temperature":
            guard let value = Double(argument), value >= 0, value <= 5 else {
                notice = "/temp takes a temperature from 0 to 5."; return []
            }
            settings.temperature = value
            notice = "Temperature: \(value)."
        case "/save":
            return [.save(name: argument.isEmpty ? "session" : argument)]
        case "/load":
            return [.load(name: argument.isEmpty ? "session" : argument)]
        case "/regen", "/regenerate":
            return regenerate()
        case "/help":
            overlay = .help
        case "/quit", "/exit":
            quit = true
            return [.quit]
        default:
            notice = "Unknown command \(name); ? lists the keys and commands."
        }
        return []
    }
}

/// A saved conversation.
public struct Session: Sendable, Equatable, Codable {
    public var version = 1
    public var imagePath: String?
    public var settings: ChatSettings
    public var turns: [Turn]

    public init(imagePath: String?, settings: ChatSettings, turns: [Turn]) {
        self.imagePath = imagePath
        self.settings = settings
        self.turns = turns
    }

    /// `$XDG_DATA_HOME/ponder/sessions`, else `~/.local/share/ponder/sessions`.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty {
            return URL(fileURLWithPath: data).appendingPathComponent("ponder/sessions")
        }
        return URL(fileURLWithPath: environment["HOME"] ?? NSTemporaryDirectory())
            .appendingPathComponent(".local/share/ponder/sessions")
    }

    public static func file(named name: String, in directory: URL = directory()) -> URL {
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        return directory.appendingPathComponent(safe + ".json")
    }

    /// Writes the session atomically (a temporary file renamed over the old one).
    public func save(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }

    public static func load(from url: URL) throws -> Session {
        try JSONDecoder().decode(Session.self, from: Data(contentsOf: url))
    }
}

/// Preferences in `$XDG_CONFIG_HOME/ponder/preferences.json` (else `~/.config/ponder/…`).
extension Preferences {
    public static func file(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".config")
        return base.appendingPathComponent("ponder/preferences.json")
    }

    public static func load(from url: URL = file()) -> Preferences {
        (try? JSONDecoder().decode(Preferences.self, from: Data(contentsOf: url))) ?? Preferences()
    }

    public func save(to url: URL = file()) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONEncoder().encode(self).write(to: url, options: .atomic)
    }
}

/// Completion of file paths for `/image`.
public enum PathCompletion {
    public static func expand(_ path: String) -> String {
        path.hasPrefix("~/") ? (ProcessInfo.processInfo.environment["HOME"] ?? "") + path.dropFirst() : path
    }

    /// `partial` extended by the longest common prefix of the entries it can still become; a
    /// single directory gets its `/`.
    public static func complete(_ partial: String) -> String {
        let expanded = expand(partial)
        let folder: String, prefix: String
        if let slash = expanded.lastIndex(of: "/") {
            folder = String(expanded[...slash]); prefix = String(expanded[expanded.index(after: slash)...])
        } else {
            folder = ""; prefix = expanded
        }
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? [])
            .filter { $0.hasPrefix(prefix) && (prefix.hasPrefix(".") || !$0.hasPrefix(".")) }.sorted()
        guard let first = entries.first else { return partial }
        var common = first
        for entry in entries.dropFirst() { while !entry.hasPrefix(common) { common.removeLast() } }
        var completed = folder + common
        var isDirectory: ObjCBool = false
        if entries.count == 1, FileManager.default.fileExists(atPath: completed, isDirectory: &isDirectory), isDirectory.boolValue {
            completed += "/"
        }
        return partial.hasPrefix("~/") && completed.hasPrefix(expand("~/"))
            ? "~/" + completed.dropFirst(expand("~/").count) : completed
    }
}
