/// How `ponder models` prints the store: an aligned table, or one entry in detail.
extension ModelListing {
    /// One row per model under a header, columns aligned; paths under `home` start with `~`.
    /// With no models, one line that says where the store looked.
    public func table(home: String? = nil) -> String {
        guard !entries.isEmpty else {
            return "No models found in " + ModelStoreLocation.describe(locations) + "."
        }
        let header = ["NAME", "FAMILY", "VISION", "QUANT", "SIZE", "SOURCE", "MODEL FILE", "PROJECTOR FILE"]
        let rows = entries.map { entry -> [String] in
            let projector: String
            if entry.projectorEmbedded {
                projector = "embedded"
            } else {
                projector = entry.projector.map { Self.abbreviate($0, home: home) } ?? "-"
            }
            return [entry.name, entry.family ?? "?", entry.projectorType ?? "-", entry.quantization ?? "?",
                    ModelSummary.formatBytes(entry.sizeBytes), entry.source.rawValue,
                    Self.abbreviate(entry.model, home: home), projector]
        }
        let table = [header] + rows
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        return table.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `path` with a leading `home` folder written `~`.
    static func abbreviate(_ path: String, home: String?) -> String {
        guard let home, !home.isEmpty, home != "/" else { return path }
        let folder = home.hasSuffix("/") ? String(home.dropLast()) : home
        return path.hasPrefix(folder + "/") ? "~" + path.dropFirst(folder.count) : path
    }
}

extension ModelStoreEntry {
    /// The entry in labelled lines, full paths.
    public var detail: String {
        var lines: [(String, String)] = [("name", name)]
        if !aliases.isEmpty { lines.append(("also named", aliases.joined(separator: ", "))) }
        lines.append(("source", "\(source.rawValue) (\(source.title))"))
        lines.append(("model file", model))
        if projectorEmbedded {
            lines.append(("projector", "embedded in the model file"))
        } else {
            lines.append(("projector file", projector ?? "none (a text model)"))
        }
        lines.append(("family", family ?? "unknown"))
        if let projectorType { lines.append(("projector type", projectorType)) }
        lines.append(("quantization", quantization ?? "unknown"))
        lines.append(("size", "\(ModelSummary.formatBytes(sizeBytes)) (\(sizeBytes) bytes)"))
        let width = lines.map { $0.0.count }.max() ?? 0
        return lines.map { $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n")
    }
}
