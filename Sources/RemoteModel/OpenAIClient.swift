import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// HTTP to an OpenAI-compatible server: JSON requests, server-sent-event streams, the API key
/// from the environment, bounded retries of 429 and 503, and every failure as a `RemoteError`.
struct OpenAIClient: Sendable {
    let base: String
    let apiKey: String?
    let keyVariable: String?
    /// A server that sends nothing for this long has timed out.
    let idleTimeout: Int
    /// Tries of a request answered 429 or 503, and the first wait between them (doubling).
    let tries: Int
    let backoff: Double

    init(server: String, keyVariable: String?, idleTimeout: Int = 120, tries: Int = 3, backoff: Double = 0.5) throws {
        var base = server
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1") { base.removeLast(3) }
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw RemoteError.invalidURL(server)
        }
        self.base = base
        self.keyVariable = keyVariable
        if let keyVariable {
            guard let key = ProcessInfo.processInfo.environment[keyVariable], !key.isEmpty else {
                throw RemoteError.missingKey(variable: keyVariable)
            }
            apiKey = key
        } else {
            apiKey = nil
        }
        self.idleTimeout = idleTimeout
        self.tries = tries
        self.backoff = backoff
    }

    /// `GET path`: the body, decoded.
    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let body = try await send(path, method: .GET, body: nil)
        return try decode(type, from: body)
    }

    /// `GET path`: the status and the body, or nil where nothing answers it (a probe).
    func probe(_ path: String) async -> (Int, Data)? {
        do {
            let response = try await execute(request(path, method: .GET, body: nil))
            let data = try await collect(response.body)
            return (Int(response.status.code), data)
        } catch {
            return nil
        }
    }

    /// `POST path` with a JSON body: the whole reply, decoded.
    func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type) async throws -> T {
        let reply = try await send(path, method: .POST, body: try JSONEncoder().encode(body))
        return try decode(type, from: reply)
    }

    /// `POST path` with a JSON body and a streamed reply: each server-sent event's data, until
    /// `[DONE]` (a stream that ends without it was cut).
    func stream(_ path: String, _ body: some Encodable, onData: (Data) throws -> Void) async throws {
        let response = try await sendForResponse(path, method: .POST, body: try JSONEncoder().encode(body))
        var parser = ServerSentEvents()
        do {
            for try await buffer in response.body {
                for data in parser.feed(buffer.readableBytesView) {
                    if data == Data("[DONE]".utf8) { return }
                    try onData(data)
                }
            }
        } catch let error as RemoteError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw mapped(error)
        }
        for data in parser.finish() where data != Data("[DONE]".utf8) { try onData(data) }
        throw RemoteError.streamCut(server: base)
    }

    // MARK: - Requests

    private func request(_ path: String, method: HTTPMethod, body: Data?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        return request
    }

    private func send(_ path: String, method: HTTPMethod, body: Data?) async throws -> Data {
        let response = try await sendForResponse(path, method: method, body: body)
        do {
            return try await collect(response.body)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw mapped(error)
        }
    }

    /// The response of a request answered 2xx, after up to `tries` tries of 429 and 503.
    private func sendForResponse(_ path: String, method: HTTPMethod, body: Data?) async throws -> HTTPClientResponse {
        var wait = backoff
        for attempt in 1...max(1, tries) {
            let response = try await execute(request(path, method: method, body: body))
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return response }
            let data = (try? await collect(response.body)) ?? Data()
            if (status == 429 || status == 503) && attempt < tries {
                let after = response.headers.first(name: "Retry-After").flatMap(Double.init).map { min($0, 5) }
                try await Task.sleep(nanoseconds: UInt64((after ?? wait) * 1e9))
                wait *= 2
                continue
            }
            throw failure(status: status, body: data, tries: attempt)
        }
        throw RemoteError.busy(server: base, status: 503, tries: tries)
    }

    private func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await Self.client(idleTimeout: idleTimeout).execute(request, deadline: .now() + .hours(24))
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            throw mapped(error)
        }
    }

    private func collect(_ body: HTTPClientResponse.Body) async throws -> Data {
        var data = Data()
        for try await buffer in body {
            data.append(contentsOf: buffer.readableBytesView)
            if data.count > 64 << 20 { throw RemoteError.malformed(server: base, detail: "a reply over 64 MiB") }
        }
        return data
    }

    func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            let start = String(decoding: data.prefix(80), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            throw RemoteError.malformed(server: base, detail: start.isEmpty ? "an empty body" : "it begins '\(start)'")
        }
    }

    /// The error of a reply with a non-2xx status.
    private func failure(status: Int, body: Data, tries: Int) -> RemoteError {
        let message = (try? JSONDecoder().decode(ErrorReply.self, from: body))?.text
            ?? String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        switch status {
        case 401, 403: return .unauthorized(server: base, status: status, keyVariable: keyVariable)
        case 404 where message.lowercased().contains("model"): return .unknownModel(server: base, model: Self.quoted(message))
        case 429, 503: return .busy(server: base, status: status, tries: tries)
        default: return .http(server: base, status: status, message: String(message.prefix(200)))
        }
    }

    private static func quoted(_ message: String) -> String {
        if let start = message.firstIndex(of: "'") ?? message.firstIndex(of: "`"),
           let end = message[message.index(after: start)...].firstIndex(where: { $0 == "'" || $0 == "`" }) {
            return String(message[message.index(after: start)..<end])
        }
        return message
    }

    /// A transport error as one of ours.
    func mapped(_ error: any Error) -> RemoteError {
        if let remote = error as? RemoteError { return remote }
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("refused") { return .connectionRefused(server: base) }
        if lower.contains("dns") || lower.contains("resolve") || lower.contains("unknown host") || lower.contains("nodename") {
            return .unknownHost(server: base)
        }
        if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") || lower.contains("handshake") {
            return .tls(server: base, detail: String(text.prefix(120)))
        }
        if lower.contains("timeout") || lower.contains("deadline") { return .timeout(server: base, seconds: idleTimeout) }
        if lower.contains("closed") || lower.contains("eof") || lower.contains("reset") || lower.contains("unexpected") {
            return .streamCut(server: base)
        }
        return .http(server: base, status: 0, message: String(text.prefix(200)))
    }

    /// One HTTP client per idle timeout, for the life of the process (certificates verified).
    private static let clients = Clients()

    static func client(idleTimeout: Int) -> HTTPClient { clients.client(idleTimeout: idleTimeout) }

    private final class Clients: @unchecked Sendable {
        private let lock = NSLock()
        private var byTimeout: [Int: HTTPClient] = [:]

        func client(idleTimeout: Int) -> HTTPClient {
            lock.withLock {
                if let client = byTimeout[idleTimeout] { return client }
                var configuration = HTTPClient.Configuration()
                configuration.timeout = .init(connect: .seconds(Int64(min(10, idleTimeout))), read: .seconds(Int64(idleTimeout)))
                let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
                byTimeout[idleTimeout] = client
                return client
            }
        }
    }
}

/// `{"error": {"message": …}}`, `{"error": "…"}` or `{"detail": …}`, as servers put it.
struct ErrorReply: Decodable {
    struct Inner: Decodable { var message: String? }
    var text: String?

    enum CodingKeys: String, CodingKey { case error, detail, message }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let inner = try? container.decode(Inner.self, forKey: .error) {
            text = inner.message
        } else {
            text = (try? container.decode(String.self, forKey: .error)) ?? (try? container.decode(String.self, forKey: .detail))
                ?? (try? container.decode(String.self, forKey: .message))
        }
    }
}

/// The data of server-sent events (the part of the format chat streams use: `data:` lines,
/// events ended by a blank line, comments). The ecosystem's parser (mattt/EventSource 1.1.1)
/// does not build on Linux (it calls `URLSession.bytes`, which swift-corelibs-foundation lacks).
struct ServerSentEvents {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false

    /// Feeds bytes; returns the data of every event they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [Data] {
        var out: [Data] = []
        for byte in bytes {
            if byte == 0x0A {
                if let event = endLine() { out.append(event) }
            } else {
                line.append(byte)
            }
        }
        return out
    }

    /// The last event, when the stream ended without a blank line after it.
    mutating func finish() -> [Data] {
        var out: [Data] = []
        if !line.isEmpty, let event = endLine() { out.append(event) }
        if let event = endLine() { out.append(event) }
        return out
    }

    private mutating func endLine() -> Data? {
        if line.last == 0x0D { line.removeLast() }
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else { return nil }
            let event = Data(data)
            data.removeAll(keepingCapacity: true)
            hasData = false
            return event
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let prefix = Array("data:".utf8)
        guard line.starts(with: prefix) else { return nil }
        var value = line.dropFirst(prefix.count)
        if value.first == 0x20 { value = value.dropFirst() }
        if hasData { data.append(0x0A) }
        data.append(contentsOf: value)
        hasData = true
        return nil
    }
}
