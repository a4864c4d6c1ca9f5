// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Ponder",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ponder", targets: ["ponder"]),
        .library(name: "GGUF", targets: ["GGUF"]),
        .library(name: "Inference", targets: ["Inference"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // System-library shims.
        .systemLibrary(name: "CNCurses",
                       providers: [.apt(["libncurses-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),

        // JPEG (libjpeg) and PNG (libpng) decoding behind setjmp error managers.
        .target(name: "CImageCodecs",
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png")]),

        // Model files.
        .target(name: "GGUF"),

        // SIMD matmul kernels (AVX2/AVX-512 VNNI, chosen at run time) and the thread pool.
        .target(name: "CKernels"),

        // Tensors, kernels, tokenizers, chat templates, models.
        .target(name: "Inference", dependencies: ["GGUF", "COpenBLAS", "CKernels", "CImageCodecs"]),

        // Staged reasoning and beam search (issue 5).
        .target(name: "Reasoning", dependencies: ["Inference"]),

        // Terminal UI (issue 6). Does not import Inference.
        .target(name: "TUI", dependencies: ["CNCurses", .product(name: "TOMLKit", package: "TOMLKit")]),

        // ReasoningModel over an OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama).
        .target(name: "RemoteModel", dependencies: [
            "Inference", "Reasoning",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ]),

        // The chat the TUI talks to, over any ReasoningModel.
        .target(name: "ChatService", dependencies: ["Inference", "Reasoning", "RemoteModel", "TUI"]),

        .executableTarget(
            name: "ponder",
            dependencies: [
                "GGUF", "Inference", "Reasoning", "RemoteModel", "TUI", "ChatService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "GGUFTests", dependencies: ["GGUF"],
                    resources: [.copy("Regressions")]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "GGUF"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ReasoningTests", dependencies: ["Reasoning"]),
        .testTarget(name: "ChatServiceTests", dependencies: ["ChatService", "Reasoning", "TUI"]),
        // The remote model against a test server of its own (faults) on 127.0.0.1.
        .testTarget(name: "RemoteModelTests", dependencies: [
            "RemoteModel", "Reasoning",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Runs the built `ponder` binary: the command-line contract, exit codes, error lines.
        .testTarget(name: "PonderCLITests", dependencies: ["ponder", "GGUF", "Inference"]),
        // The terminal app against an in-memory terminal and a scripted backend (snapshots of
        // the cell grid), and the real binary under tmux.
        .testTarget(name: "TUITests", dependencies: ["TUI", "ponder"], exclude: ["Snapshots"]),
    ],
    swiftLanguageModes: [.v6]
)
