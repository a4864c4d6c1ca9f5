import Foundation
import TOMLKit

/// Why a theme cannot be used; `description` names the file and the value.
public struct ThemeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Theme {
    /// The UI roles a theme file sets under `[ui]`, and the stages under `[stages]`.
    public static let roles = ["text", "background", "muted", "accent", "user", "border", "error", "status_fg",
                               "status_bg", "selection_fg", "selection_bg", "diff"]

    /// Reads a theme from TOML: `name`, `[ui]` (every role in `roles`; a theme written before
    /// `diff` existed may leave it out, and `error`'s colour stands in) and `[stages]` (a colour
    /// per stage). A colour is `"default"` (the terminal's), an ANSI name (`"red"`,
    /// `"bright-blue"`), `"ansi:N"` (0–15), `"N"`/N (0–255, xterm) or `"#rrggbb"`.
    public init(toml: String, source: String) throws {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            throw ThemeError("\(source): \(error.description) at line \(error.source.begin.line), column \(error.source.begin.column).")
        }
        guard let ui = table["ui"]?.table else { throw ThemeError("\(source): the theme has no [ui] table.") }
        guard let stageTable = table["stages"]?.table else { throw ThemeError("\(source): the theme has no [stages] table.") }
        func color(_ table: TOMLTable, _ key: String, _ section: String) throws -> Color {
            guard let value = table[key] else { throw ThemeError("\(source): [\(section)] has no '\(key)' colour.") }
            let text = value.string ?? value.int.map(String.init) ?? ""
            guard let color = Color(themeValue: text) else {
                throw ThemeError("\(source): [\(section)] \(key) = '\(text)' is not a colour (default, a name such as red, ansi:N, 0–255 or #rrggbb).")
            }
            return color
        }
        var stages: [StageName: Color] = [:]
        for stage in StageName.allCases { stages[stage] = try color(stageTable, stage.rawValue, "stages") }
        self.init(name: table["name"]?.string ?? source,
                  text: try color(ui, "text", "ui"), background: try color(ui, "background", "ui"),
                  muted: try color(ui, "muted", "ui"), accent: try color(ui, "accent", "ui"),
                  user: try color(ui, "user", "ui"), border: try color(ui, "border", "ui"),
                  error: try color(ui, "error", "ui"), statusForeground: try color(ui, "status_fg", "ui"),
                  statusBackground: try color(ui, "status_bg", "ui"),
                  selectionForeground: try color(ui, "selection_fg", "ui"),
                  selectionBackground: try color(ui, "selection_bg", "ui"),
                  diff: try color(ui, ui["diff"] == nil ? "error" : "diff", "ui"), stages: stages)
    }

    /// The folders searched for `NAME.toml`, first match wins: the user's
    /// (`$XDG_CONFIG_HOME/ponder/themes`, else `~/.config/ponder/themes`), then the bundled
    /// `Themes/` next to the executable or in the current directory.
    public static func searchPaths(executable: String = CommandLine.arguments[0],
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var paths: [String] = []
        if let config = environment["XDG_CONFIG_HOME"], !config.isEmpty {
            paths.append(config + "/ponder/themes")
        } else if let home = environment["HOME"] {
            paths.append(home + "/.config/ponder/themes")
        }
        var folder = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            paths.append(folder.appendingPathComponent("Themes").path)
            folder.deleteLastPathComponent()
        }
        paths.append(FileManager.default.currentDirectoryPath + "/Themes")
        return paths
    }

    /// Loads theme `name` (a name or a path to a .toml file) from `paths`.
    public static func load(named name: String, paths: [String] = searchPaths()) throws -> Theme {
        if name.hasSuffix(".toml") || name.contains("/") {
            guard let text = try? String(contentsOfFile: name, encoding: .utf8) else {
                throw ThemeError("\(name): the theme file cannot be read.")
            }
            return try Theme(toml: text, source: name)
        }
        for path in paths {
            let file = path + "/" + name + ".toml"
            if let text = try? String(contentsOfFile: file, encoding: .utf8) { return try Theme(toml: text, source: file) }
        }
        let known = Set(paths.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
            .filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }).sorted()
        throw ThemeError("There is no theme named '\(name)'" + (known.isEmpty ? "." : " (themes: \(known.joined(separator: ", ")))."))
    }
}

extension Color {
    static let ansiNames = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    /// A colour from a theme file's value (see `Theme.init(toml:source:)`).
    public init?(themeValue raw: String) {
        let value = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if value == "default" || value == "terminal" { self = .terminal; return }
        if let index = Self.ansiNames.firstIndex(of: value) { self = .ansi(UInt8(index)); return }
        if value.hasPrefix("bright-"), let index = Self.ansiNames.firstIndex(of: String(value.dropFirst(7))) {
            self = .ansi(UInt8(index + 8)); return
        }
        if value.hasPrefix("ansi:"), let index = UInt8(value.dropFirst(5)), index < 16 { self = .ansi(index); return }
        if let index = UInt8(value) { self = .indexed(index); return }
        if value.hasPrefix("#"), value.count == 7, let rgb = UInt32(value.dropFirst(), radix: 16) {
            self = .rgb(UInt8(rgb >> 16), UInt8((rgb >> 8) & 0xFF), UInt8(rgb & 0xFF)); return
        }
        return nil
    }
}
