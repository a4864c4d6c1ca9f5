import Foundation

/// The demo vision-language model that ships in the repository (`Models/demo`), found from
/// the executable's folder upwards (a build folder inside the package) or from the current
/// directory.
public struct DemoModel: Sendable, Equatable {
    public static let folder = "Models/demo"
    public static let textFile = "ponder-demo.gguf"
    public static let projectorFile = "ponder-demo-mmproj.gguf"

    public var textModel: String
    public var projector: String
    /// The bundled sample image and its suggested question, when `sample.json` names them.
    public var sampleImage: String?
    public var sampleQuestion: String?

    /// The demo model in `directory`'s `Models/demo`, if its text model is there.
    public static func inPackage(at directory: URL) -> DemoModel? {
        let folder = directory.appendingPathComponent(Self.folder)
        let text = folder.appendingPathComponent(textFile).path
        guard FileManager.default.fileExists(atPath: text) else { return nil }
        var demo = DemoModel(textModel: text, projector: folder.appendingPathComponent(projectorFile).path)
        struct Sample: Decodable { let image: String; let question: String }
        if let data = FileManager.default.contents(atPath: folder.appendingPathComponent("sample.json").path),
           let sample = try? JSONDecoder().decode(Sample.self, from: data) {
            demo.sampleImage = folder.appendingPathComponent(sample.image).path
            demo.sampleQuestion = sample.question
        }
        return demo
    }

    /// Looks in the executable's folder and each folder above it, then in the current
    /// directory and each folder above it.
    public static func locate(executable: String = CommandLine.arguments[0],
                              currentDirectory: String = FileManager.default.currentDirectoryPath) -> DemoModel? {
        let executableURL = URL(fileURLWithPath: executable, relativeTo: URL(fileURLWithPath: currentDirectory))
            .resolvingSymlinksInPath()
        for start in [executableURL.deletingLastPathComponent(), URL(fileURLWithPath: currentDirectory)] {
            var directory = start.standardizedFileURL
            while true {
                if let demo = inPackage(at: directory) { return demo }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return nil
    }
}
