import ArgumentParser

@main
struct Ponder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ponder",
        abstract: "Chat about an image with a local vision-language model and watch it reason.",
        subcommands: []
    )
}
