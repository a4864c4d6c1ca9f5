import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP server on 127.0.0.1 for the faults a real server cannot be made to produce (a
/// cut stream, bad JSON, 429s), and for checking the requests Ponder sends. Each request gets
/// the next of `replies` for its path (the last one repeats); bodies of requests are recorded.
final class FaultServer: @unchecked Sendable {
    enum Reply: Sendable {
        /// A status and a body, sent whole.
        case status(Int, String, headers: [(String, String)] = [])
        /// Server-sent events: each string is one event's data; `cut`: the connection closes
        /// after them without `[DONE]`.
        case events([String], cut: Bool = false)
        /// Nothing, for `seconds`.
        case silence(seconds: Double)
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: (any Channel)?
    private let lock = NSLock()
    private var routes: [String: [Reply]]
    private var served: [String: Int] = [:]
    private var bodies: [(path: String, body: Data)] = []

    init(_ routes: [String: [Reply]]) throws {
        self.routes = routes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(server: self))
                }
            }
        channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
    }

    deinit { try? group.syncShutdownGracefully() }

    var url: String { "http://127.0.0.1:\(channel?.localAddress?.port ?? 0)" }

    /// The JSON bodies posted to `path`, in order.
    func posted(_ path: String) -> [[String: Any]] {
        lock.withLock { bodies.filter { $0.path == path }.compactMap { try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any] } }
    }

    func count(_ path: String) -> Int { lock.withLock { served[path] ?? 0 } }

    fileprivate func reply(for path: String, body: Data) -> Reply {
        lock.withLock {
            bodies.append((path, body))
            let index = served[path, default: 0]
            served[path] = index + 1
            guard let list = routes[path], !list.isEmpty else { return .status(404, #"{"error": {"message": "no such route"}}"#) }
            return list[min(index, list.count - 1)]
        }
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: FaultServer
        var path = ""
        var body = Data()

        init(server: FaultServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.split(separator: "?").first ?? "")
                body = Data()
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                respond(context: context, server.reply(for: path, body: body))
            }
        }

        private func respond(context: ChannelHandlerContext, _ reply: Reply) {
            let channel = context.channel
            switch reply {
            case .status(let code, let text, let extra):
                var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(text.utf8.count)")])
                for (name, value) in extra { headers.add(name: name, value: value) }
                let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: code), headers: headers)
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .events(let events, let cut):
                let head = HTTPResponseHead(version: .http1_1, status: .ok,
                                            headers: HTTPHeaders([("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]))
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                for event in events {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: \(event)\n\n")))), promise: nil)
                }
                if cut {
                    context.flush()
                    channel.eventLoop.scheduleTask(in: .milliseconds(20)) { channel.close(promise: nil) }
                } else {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: [DONE]\n\n")))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
            case .silence(let seconds):
                channel.eventLoop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) { channel.close(promise: nil) }
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that is bound and held without listening: connecting to it is
/// refused, and no other socket can bind it until this is released.
final class ClosedPort {
    let port: Int
    private let socket: Int32

    init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        socket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(socket) }
}
