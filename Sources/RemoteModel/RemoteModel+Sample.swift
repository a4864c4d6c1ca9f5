import Foundation
import Reasoning

extension RemoteModel {
    /// One streamed request: `n` candidates of group `group`, numbered from `first`.
    struct Call: Sendable {
        var group: Int
        var first: Int
        var n: Int
    }

    /// What the concurrent requests report, in order per request.
    enum Chunk: Sendable {
        case text(candidate: Int, String)
        case logprobs(candidate: Int, [Float])
        case finished(candidate: Int, reason: String, stop: String?)
        case usage(prompt: Int, cached: Int?)
        case done(call: Int, seen: Set<Int>)
        case failed(call: Int, RemoteError)
    }

    /// A candidate as its chunks arrive.
    struct Building {
        var text = ""
        var logprobs: [Float] = []
        var finished = false
        /// `stop`, `length`, …; and the stop string that matched, where the server says.
        var reason: String?
        var stop: String?
        /// llama-server: the echoed assistant text still to strip from the start.
        var echo: String?
        /// Text received but not shown yet: it may be the start of a cut tag.
        var held = ""
        /// A cut tag found in the text (one not sent as a stop string): nothing after it counts.
        var cutHere: String?

        /// Takes streamed text; returns what can be shown now. Text from a cut tag on is
        /// dropped; a tail that may begin one waits for the next text.
        mutating func receive(_ piece: String, cuts: [String]) -> String? {
            guard cutHere == nil else { return nil }
            held += piece
            if let (tag, range) = cuts.compactMap({ tag in held.range(of: tag).map { (tag, $0) } })
                .min(by: { $0.1.lowerBound < $1.1.lowerBound }) {
                cutHere = tag
                let shown = String(held[..<range.lowerBound])
                held = ""
                text += shown
                return shown.isEmpty ? nil : shown
            }
            // Keep back the longest tail that is a proper prefix of a tag.
            var keep = 0
            for tag in cuts {
                for length in stride(from: min(tag.count - 1, held.count), to: 0, by: -1)
                where length > keep && held.hasSuffix(tag.prefix(length)) {
                    keep = length
                    break
                }
            }
            let shown = String(held.dropLast(keep))
            held = String(held.suffix(keep))
            text += shown
            return shown.isEmpty ? nil : shown
        }

        /// What was held back, at the end.
        mutating func flush() -> String? {
            guard cutHere == nil, !held.isEmpty else { return nil }
            let rest = held
            held = ""
            text += rest
            return rest
        }
    }

    public func sample(_ request: SampleRequest, onEvent: (SampleEvent) -> Void) async throws -> SampleResult {
        let prefixes = try request.groups.map { try remote($0.prefix) }
        var calls: [Call] = []
        var offset = 0
        for (group, entry) in request.groups.enumerated() {
            if connection.usesSeveralChoices {
                calls.append(Call(group: group, first: offset, n: entry.count))
            } else {
                calls += (0..<entry.count).map { Call(group: group, first: offset + $0, n: 1) }
            }
            offset += entry.count
        }
        var building = [Building](repeating: Building(), count: offset)
        if connection.dialect.echoesPrefix {
            for (group, entry) in request.groups.enumerated() {
                let echoed = prefixes[group].text + request.opening
                let start = request.groups[..<group].reduce(0) { $0 + $1.count }
                for k in start..<(start + entry.count) where !echoed.isEmpty { building[k].echo = echoed }
            }
        }
        var usage = (prompt: 0, cached: nil as Int?)
        var pending = calls
        while !pending.isEmpty {
            let retry = try await run(pending, prefixes: prefixes, request: request, building: &building, usage: &usage,
                                      onEvent: onEvent)
            pending = retry
        }
        var candidates: [Candidate] = []
        var continuations: [(any ReasoningPrefix)?] = []
        let owners = request.groups.enumerated().flatMap { Array(repeating: $0.offset, count: $0.element.count) }
        for (k, built) in building.enumerated() {
            let cut = built.stop.flatMap { request.cuts.contains($0) ? $0 : nil }
            let text = cut == nil ? built.text : String(built.text.reversed().drop { $0.isWhitespace }.reversed())
            candidates.append(Candidate(text: text, logProbabilities: built.logprobs, cutAt: cut))
            // Stop strings are left out of the text: the one that ended the candidate goes back
            // (a server that does not say which: the stage's own, when it stopped on a string).
            let ending = cut != nil ? request.closing ?? ""
                : built.stop ?? (built.reason == "stop" ? request.stops.first ?? "" : "")
            continuations.append(request.keepsContinuations
                                 ? RemotePrefix(messages: prefixes[owners[k]].messages,
                                                text: prefixes[owners[k]].text + request.opening + text + ending)
                                 : nil)
        }
        return SampleResult(candidates: candidates, continuations: continuations, promptTokens: usage.prompt,
                            cachedTokens: usage.cached, generatedTokens: building.reduce(0) { $0 + $1.logprobs.count })
    }

    /// Runs `calls` at once and hands their text to `onEvent` as it arrives. Returns the calls
    /// to make again, one candidate each, when the server refused or shortened `n`.
    private func run(_ calls: [Call], prefixes: [RemotePrefix], request: SampleRequest, building: inout [Building],
                     usage: inout (prompt: Int, cached: Int?), onEvent: (SampleEvent) -> Void) async throws -> [Call] {
        let (stream, continuation) = AsyncStream<Chunk>.makeStream()
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, call) in calls.enumerated() {
                    group.addTask {
                        await self.stream(call, index: index, prefix: prefixes[call.group], request: request, into: continuation)
                    }
                }
            }
            continuation.finish()
        }
        var retry: [Call] = []
        var failure: RemoteError?
        await withTaskCancellationHandler {
            for await chunk in stream {
                switch chunk {
                case .text(let k, var text):
                    if let echo = building[k].echo {
                        // llama-server repeats the assistant text first: strip it, across chunks.
                        if text.hasPrefix(echo) {
                            text.removeFirst(echo.count)
                            building[k].echo = nil
                        } else if echo.hasPrefix(text) {
                            building[k].echo = String(echo.dropFirst(text.count))
                            text = ""
                        } else {
                            building[k].echo = nil
                        }
                    }
                    if !text.isEmpty { building[k].receive(text, cuts: request.cuts).map { onEvent(.token(candidate: k, text: $0)) } }
                case .logprobs(let k, let values):
                    building[k].logprobs += values
                case .finished(let k, let reason, let stop):
                    building[k].finished = true
                    building[k].reason = reason
                    building[k].stop = building[k].cutHere ?? stop
                    if let rest = building[k].flush() { onEvent(.token(candidate: k, text: rest)) }
                    let cut = stop.flatMap { request.cuts.contains($0) ? $0 : nil }
                    let text = cut == nil ? building[k].text : String(building[k].text.reversed().drop { $0.isWhitespace }.reversed())
                    onEvent(.finished(candidate: k, text: text, generated: building[k].logprobs.count,
                                      logprob: building[k].logprobs.reduce(0) { $0 + Double($1) }, cutAt: cut))
                case .usage(let prompt, let cached):
                    usage.prompt += prompt
                    if let cached { usage.cached = (usage.cached ?? 0) + cached }
                case .done(let index, let seen):
                    let call = calls[index]
                    let missing = (call.first..<(call.first + call.n)).filter { !seen.contains($0) }
                    if !missing.isEmpty, call.n > 1 {
                        connection.useOneChoicePerRequest(because: "it answered \(call.n - missing.count) of \(call.n) choices")
                        retry += missing.map { Call(group: call.group, first: $0, n: 1) }
                    }
                case .failed(let index, let error):
                    let call = calls[index]
                    if call.n > 1, case .http(_, 400, let message) = error,
                       message.lowercased().contains("choice") || message.lowercased().contains(" n ") {
                        connection.useOneChoicePerRequest(because: "it refused n = \(call.n) (\(message.prefix(80)))")
                        retry += (call.first..<(call.first + call.n)).map { Call(group: call.group, first: $0, n: 1) }
                    } else if failure == nil {
                        failure = error
                    }
                }
            }
        } onCancel: {
            task.cancel()
        }
        // Cancelled: the candidates as far as they got (the caller marks the run stopped).
        if Task.isCancelled { return [] }
        if let failure { throw failure }
        return retry
    }

    /// Streams one request into `continuation`.
    private func stream(_ call: Call, index: Int, prefix: RemotePrefix, request: SampleRequest,
                        into continuation: AsyncStream<Chunk>.Continuation) async {
        let body = self.body(prefix, opening: request.opening, n: call.n, request: request,
                             seedOffset: call.n == 1 ? call.first : 0)
        var seen: Set<Int> = []
        do {
            try await connection.client.stream("/v1/chat/completions", body) { data in
                let chunk = try connection.client.decode(ChatCompletionChunk.self, from: data)
                if let message = chunk.error?.message { throw RemoteError.http(server: connection.server, status: 0, message: message) }
                for choice in chunk.choices ?? [] {
                    let k = call.first + min(max(0, choice.index ?? 0), call.n - 1)
                    if let text = choice.delta?.content ?? choice.message?.content, !text.isEmpty {
                        continuation.yield(.text(candidate: k, text))
                    }
                    if let values = choice.logprobs?.content, !values.isEmpty {
                        continuation.yield(.logprobs(candidate: k, values.map { Float($0.logprob) }))
                    }
                    if let reason = choice.finish_reason {
                        seen.insert(k)
                        var stop: String?
                        if case .string(let matched)? = choice.stop_reason { stop = matched }
                        continuation.yield(.finished(candidate: k, reason: reason, stop: reason == "length" ? nil : stop))
                    }
                }
                if let usage = chunk.usage {
                    let cached = usage.prompt_tokens_details?.cached_tokens ?? chunk.timings?.cache_n
                    continuation.yield(.usage(prompt: usage.prompt_tokens ?? 0, cached: cached))
                }
            }
            if seen.isEmpty { throw RemoteError.noChoices(server: connection.server) }
            continuation.yield(.done(call: index, seen: seen))
        } catch is CancellationError {
            return
        } catch let error as RemoteError {
            continuation.yield(.failed(call: index, error))
        } catch {
            continuation.yield(.failed(call: index, connection.client.mapped(error)))
        }
    }
}
