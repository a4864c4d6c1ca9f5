import Foundation

/// Why a server could not answer. `description` is one sentence naming the server or value.
public enum RemoteError: Error, Sendable, Equatable, CustomStringConvertible {
    case connectionRefused(server: String)
    case unknownHost(server: String)
    case tls(server: String, detail: String)
    case unauthorized(server: String, status: Int, keyVariable: String?)
    case unknownModel(server: String, model: String)
    case busy(server: String, status: Int, tries: Int)
    case streamCut(server: String)
    case malformed(server: String, detail: String)
    case noChoices(server: String)
    case timeout(server: String, seconds: Int)
    case http(server: String, status: Int, message: String)
    case invalidURL(String)
    case noModel(server: String)
    case unreadableImage(path: String, detail: String)
    case missingKey(variable: String)

    public var description: String {
        switch self {
        case .connectionRefused(let server):
            "Nothing is listening at \(server) (connection refused); start the server or check --server."
        case .unknownHost(let server):
            "The host of \(server) cannot be found (DNS lookup failed); check --server."
        case .tls(let server, let detail):
            "The TLS connection to \(server) failed (\(detail)); its certificate must be valid for the host."
        case .unauthorized(let server, let status, let variable):
            "The server at \(server) refused the request (HTTP \(status)): "
                + (variable.map { "check the API key in $\($0)." } ?? "it needs an API key; name its variable with --api-key-env.")
        case .unknownModel(let server, let model):
            "The server at \(server) does not serve a model named '\(model)' (HTTP 404); ponder models --server \(server) lists what it serves."
        case .busy(let server, let status, let tries):
            "The server at \(server) is busy (HTTP \(status)) and still was after \(tries) tries; try again later."
        case .streamCut(let server):
            "The server at \(server) closed the stream in the middle of an answer; the stages so far are kept."
        case .malformed(let server, let detail):
            "The server at \(server) sent a reply that is not a chat completion (\(detail))."
        case .noChoices(let server):
            "The server at \(server) answered with no choices."
        case .timeout(let server, let seconds):
            "The server at \(server) did not answer within \(seconds) s."
        case .http(let server, let status, let message):
            status == 0 ? "The connection to \(server) failed (\(message))."
                : "The server at \(server) answered HTTP \(status)" + (message.isEmpty ? "." : ": \(message.hasSuffix(".") ? String(message.dropLast()) : message).")
        case .invalidURL(let url):
            "'\(url)' is not a server URL; give one like http://127.0.0.1:8000."
        case .noModel(let server):
            "The server at \(server) lists no models; name one with --served-model."
        case .unreadableImage(let path, let detail):
            "The image \(path) cannot be read (\(detail))."
        case .missingKey(let variable):
            "The environment variable \(variable) (--api-key-env) is not set."
        }
    }
}
