import Foundation

/// Finds the GGUF models already on this machine: Ollama's store, the Hugging Face cache,
/// LM Studio's models folder, and plain folders (`$PONDER_MODELS`, `--models-dir`); pairs each
/// text model with its vision projector; and looks a model up by the name it lists.
///
/// Only headers and metadata are read (files are mapped, never read whole). A corrupt GGUF, a
/// malformed manifest, a dangling link or an unreadable folder is skipped with its reason in
/// `ModelListing.skipped`, never an error; folders are entered once each, so links cannot loop.
///
/// The environment and the home folder are parameters, so tests build stores in a temporary
/// folder; `current(folders:)` gives the process's own.
public struct ModelStore: Sendable {
    public let environment: [String: String]
    public let homeDirectory: String
    /// Folders given on the command line (`--models-dir`), looked in after `$PONDER_MODELS`.
    public let folders: [String]

    /// How deep below a plain folder `.gguf` files are found.
    static let folderDepth = 2
    /// How deep below a Hugging Face snapshot or an LM Studio repository folder.
    static let repositoryDepth = 3

    public init(environment: [String: String], homeDirectory: String, folders: [String] = []) {
        self.environment = environment
        self.homeDirectory = homeDirectory
        self.folders = folders
    }

    /// The store of this process: its environment and the user's home folder.
    public static func current(folders: [String] = []) -> ModelStore {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return ModelStore(environment: environment, homeDirectory: home, folders: folders)
    }

    // MARK: - Where it looks

    /// `$OLLAMA_MODELS`, else `~/.ollama/models`.
    public var ollamaFolder: String {
        variable("OLLAMA_MODELS").map(expand) ?? join(homeDirectory, ".ollama/models")
    }

    /// `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
    /// `~/.cache/huggingface/hub` (as `huggingface_hub` decides).
    public var huggingFaceFolder: String {
        if let cache = variable("HF_HUB_CACHE") { return expand(cache) }
        if let home = variable("HF_HOME") { return join(expand(home), "hub") }
        if let cache = variable("XDG_CACHE_HOME") { return join(expand(cache), "huggingface/hub") }
        return join(homeDirectory, ".cache/huggingface/hub")
    }

    /// `~/.lmstudio/models`, then the older `~/.cache/lm-studio/models`.
    public var lmStudioFolders: [String] {
        [join(homeDirectory, ".lmstudio/models"), join(homeDirectory, ".cache/lm-studio/models")]
    }

    /// `$PONDER_MODELS` (colon-separated), then the `--models-dir` folders, each once.
    public var modelFolders: [String] {
        let fromEnvironment = (variable("PONDER_MODELS") ?? "").split(separator: ":").map(String.init)
        var seen: Set<String> = []
        return (fromEnvironment + folders).filter { !$0.isEmpty }.map(expand).filter { seen.insert($0).inserted }
    }

    /// Every folder looked in, in the order they are looked in, whether or not it exists.
    public var locations: [ModelStoreLocation] {
        [ModelStoreLocation(source: .ollama, path: ollamaFolder),
         ModelStoreLocation(source: .huggingface, path: huggingFaceFolder)]
            + lmStudioFolders.map { ModelStoreLocation(source: .lmstudio, path: $0) }
            + modelFolders.map { ModelStoreLocation(source: .folder, path: $0) }
    }

    // MARK: - Listing

    /// Every model in every location, sorted by source and then name.
    public func scan() -> ModelListing { scan(matching: nil) }

    /// With `name`, only the models that could answer to it (a name or alias equal to it
    /// once both lose their `:tag` and case): the files of other models are not read.
    func scan(matching name: String?) -> ModelListing {
        var scan = ModelStoreScan()
        scan.wanted = name.map { Self.untagged($0).lowercased() }
        var entries: [ModelStoreEntry] = []
        for location in locations where location.exists {
            switch location.source {
            case .ollama: entries += scan.ollamaEntries(root: location.path)
            case .huggingface: entries += scan.huggingFaceEntries(root: location.path)
            case .lmstudio: entries += scan.lmStudioEntries(root: location.path)
            case .folder: entries += scan.folderEntries(root: location.path)
            }
        }
        entries.sort { ($0.source, $0.name, $0.model) < ($1.source, $1.name, $1.model) }
        return ModelListing(entries: entries, skipped: scan.skipped, locations: locations)
    }

    // MARK: - Helpers

    private func variable(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// `~` and `~/x` against the home folder; other paths as they are.
    func expand(_ path: String) -> String {
        if path == "~" { return homeDirectory }
        if path.hasPrefix("~/") { return join(homeDirectory, String(path.dropFirst(2))) }
        return path
    }

    private func join(_ folder: String, _ name: String) -> String { StoreFileSystem.join(folder, name) }
}

/// The state of one scan: what was skipped, and the facts of each file read (each file is
/// read once even when several entries name it).
struct ModelStoreScan {
    var skipped: [ModelStoreSkip] = []
    /// When set, the untagged, lower-cased name that entries must answer to; the others are
    /// passed over unread.
    var wanted: String?
    var walker = GGUFFileWalker()
    private var cache: [String: ModelFileFacts?] = [:]

    mutating func skip(_ path: String, _ reason: String) {
        skipped.append(ModelStoreSkip(path: path, reason: reason))
    }

    /// The facts of the GGUF file at `path`, or nil (skipped, with the reason) when it is
    /// missing, not a regular file, or not a readable GGUF file.
    mutating func facts(path: String, status known: StoreFileStatus? = nil) -> ModelFileFacts? {
        if let cached = cache[path] { return cached }
        var result: ModelFileFacts?
        switch known.map({ Result<StoreFileStatus, StoreProblem>.success($0) }) ?? StoreFileSystem.status(path) {
        case .failure(let problem):
            skip(path, problem.reason)
        case .success(let status) where status.kind != .regular:
            skip(path, status.kind == .directory ? "a folder, not a GGUF file" : "not a regular file")
        case .success(let status):
            switch ModelFileFacts.read(path: path, size: status.size) {
            case .success(let facts): result = facts
            case .failure(let problem): skip(path, problem.reason)
            }
        }
        cache[path] = result
        return result
    }

    /// Whether an entry with these names (its name and aliases) can answer to `wanted`.
    func wants(_ names: [String]) -> Bool {
        guard let wanted else { return true }
        return names.contains { ModelStore.untagged($0).lowercased() == wanted }
    }

    /// The `.gguf` files under `root` (see `GGUFFileWalker`); its skips land in this scan's
    /// list. A `separate` tree is walked even where it shares folders with earlier ones.
    mutating func walk(_ root: String, depth: Int, separate: Bool = false) -> [GGUFFileWalker.Found] {
        if separate { walker.forgetEnteredFolders() }
        let before = walker.skipped.count
        let found = walker.files(under: root, depth: depth)
        skipped += walker.skipped[before...]
        return found
    }
}
