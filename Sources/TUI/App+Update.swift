/// What changes the state: input, the backend's reports, and time.
public enum Message: Sendable {
    case input(InputEvent)
    case backend(turn: Int, branch: Int, BackendEvent)
    case finished(turn: Int, branch: Int, AnswerSummary)
    case failed(turn: Int, branch: Int, String)
    case pickRequested(turn: Int, branch: Int, PickRequest)
    case imageLoaded(path: String, PreviewImage)
    case imageFailed(path: String, String)
    /// `/server`: the backend now answers with the model this names (or could not connect).
    case serverConnected(model: String)
    case serverFailed(String)
    case sessionLoaded(Session)
    case notice(String)
    case tick(Double)
    /// A click on the header of stage `index` of the last turn (resolved by the run loop).
    case stageClicked(Int)
}

/// What the update asks the run loop to do.
public enum Effect: Sendable, Equatable {
    case ask(turn: Int, question: String, settings: ChatSettings)
    case branch(turn: Int, from: Int, stage: String, candidate: Int, settings: ChatSettings)
    case stop
    case answerPick(Int)
    case loadImage(String)
    case connect(server: String)
    case save(name: String)
    case load(name: String)
    case savePreferences(Preferences)
    case redraw
    case quit
}

extension AppState {
    /// The Elm update: applies `message`, returns the effects to run.
    public mutating func update(_ message: Message) -> [Effect] {
        switch message {
        case .input(let event): return handle(event)
        case .backend(let turn, let branch, let event): apply(event, turn: turn, branch: branch)
        case .finished(let turn, let branch, let summary):
            finish(turn: turn, branch: branch, stopped: summary.stopped, error: nil)
            if turns.indices.contains(turn), turns[turn].branches.indices.contains(branch) {
                turns[turn].branches[branch].generatedTokens = summary.generatedTokens
                turns[turn].branches[branch].seconds = summary.seconds
            }
        case .failed(let turn, let branch, let error):
            finish(turn: turn, branch: branch, stopped: false, error: error)
            notice = error
        case .pickRequested(let turn, let branch, let request):
            guard active.map({ $0 == (turn, branch) }) == true, let stage = StageName(rawValue: request.stage) else { break }
            pendingPick = request
            let index = StageName.allCases.firstIndex(of: stage)!
            turns[turn].branches[branch].stages[index].phase = .choosing
            focus = index
            overlay = .compare(stage: index, selected: 0, manual: true)
        case .imageLoaded(let path, let image):
            imagePath = path
            self.image = image
            notice = "Image \(path) loaded."
        case .imageFailed(_, let error):
            notice = error
        case .serverConnected(let model):
            modelName = model
            notice = "Answering with \(model); the conversation goes on."
        case .serverFailed(let error):
            notice = error
        case .sessionLoaded(let session):
            turns = session.turns
            settings = session.settings
            imagePath = session.imagePath ?? imagePath
            focus = nil; overlay = nil; scroll = 0
            notice = "Session loaded (\(turns.count) turns)."
            if let path = session.imagePath { return [.loadImage(path)] }
        case .notice(let text):
            notice = text
        case .tick(let seconds):
            now = seconds
        case .stageClicked(let index):
            guard overlay == nil, StageName.allCases.indices.contains(index) else { break }
            focus = index
            toggle(index)
        }
        return []
    }

    // MARK: backend events

    private mutating func apply(_ event: BackendEvent, turn: Int, branch: Int) {
        guard turns.indices.contains(turn), turns[turn].branches.indices.contains(branch) else { return }
        func stageIndex(_ name: String) -> Int? { StageName(rawValue: name).flatMap { StageName.allCases.firstIndex(of: $0) } }
        switch event {
        case .stageStarted(let name, let count):
            guard let index = stageIndex(name) else { return }
            var stage = turns[turn].branches[branch].stages[index]
            stage.phase = .streaming
            stage.candidates = Array(repeating: CandidateState(), count: max(1, count))
            stage.viewing = 0
            stage.chosen = nil
            turns[turn].branches[branch].stages[index] = stage
        case .token(let name, let candidate, let text):
            guard let index = stageIndex(name) else { return }
            // Mutated in place (a copy of the stage would copy its text on every token).
            if turns[turn].branches[branch].stages[index].phase == .waiting {
                turns[turn].branches[branch].stages[index].phase = .streaming
            }
            while turns[turn].branches[branch].stages[index].candidates.count <= candidate {
                turns[turn].branches[branch].stages[index].candidates.append(CandidateState())
            }
            // A stage's text starts at its first visible character.
            let isFirst = turns[turn].branches[branch].stages[index].candidates[candidate].text.isEmpty
            turns[turn].branches[branch].stages[index].candidates[candidate].text += isFirst ? text.trimmingLeadingNewlines : text
            turns[turn].branches[branch].stages[index].candidates[candidate].tokens += 1
            runTokens += 1
        case .candidateFinished(let name, let candidate, let tokens, let cutAt):
            guard let index = stageIndex(name), turns[turn].branches[branch].stages[index].candidates.indices.contains(candidate)
            else { return }
            turns[turn].branches[branch].stages[index].candidates[candidate].tokens = tokens
            turns[turn].branches[branch].stages[index].candidates[candidate].finished = true
            turns[turn].branches[branch].stages[index].candidates[candidate].cutAt = cutAt
        case .stageChosen(let name, let candidate, let by, let scores):
            guard let index = stageIndex(name) else { return }
            var stage = turns[turn].branches[branch].stages[index]
            stage.chosen = candidate
            stage.viewing = candidate
            stage.by = by
            stage.scores = scores
            stage.phase = by == "stopped" ? .stopped : .done
            turns[turn].branches[branch].stages[index] = stage
            if pendingPick?.stage == name { pendingPick = nil }
            if case .compare(let open, _, true)? = overlay, open == index { overlay = nil }
        }
    }

    /// Finalises every header of a branch: after the end, an error or a stop.
    private mutating func finish(turn: Int, branch: Int, stopped: Bool, error: String?) {
        guard turns.indices.contains(turn), turns[turn].branches.indices.contains(branch) else { return }
        var answer = turns[turn].branches[branch]
        for index in answer.stages.indices {
            switch answer.stages[index].phase {
            case .waiting: answer.stages[index].phase = error != nil ? .failed : stopped ? .stopped : .skipped
            case .streaming, .choosing:
                answer.stages[index].phase = error != nil ? .failed : stopped ? .stopped : .done
                if answer.stages[index].chosen == nil, !answer.stages[index].candidates.isEmpty {
                    answer.stages[index].chosen = answer.stages[index].viewing
                }
            default: break
            }
        }
        answer.running = false
        answer.stopped = stopped
        answer.error = error
        turns[turn].branches[branch] = answer
        if active.map({ $0 == (turn, branch) }) == true {
            active = nil
            pendingPick = nil
            if case .compare(_, _, true)? = overlay { overlay = nil }
        }
    }

    // MARK: input

    private mutating func handle(_ event: InputEvent) -> [Effect] {
        switch event {
        case .resize(let newSize):
            size = newSize
            return []
        case .paste(let text):
            if overlay == .help { overlay = nil }
            input.insert(text)
            return []
        case .click:
            return []   // the run loop resolves clicks on stage headers to `.stageClicked`
        case .key(let key):
            if key != .control("c") { quitArmed = false }
            return handle(key)
        }
    }

    private mutating func handle(_ key: Key) -> [Effect] {
        // Keys that work everywhere.
        switch key {
        case .control("c"):
            if isRunning { return [.stop] }
            if overlay != nil { overlay = nil; return [] }
            if quitArmed { quit = true; return [.quit] }
            quitArmed = true
            notice = "Press Ctrl-C again to quit."
            return []
        case .control("l"): return [.redraw]
        default: break
        }
        if let overlay { return handleOverlay(key, overlay) }
        switch key {
        case .escape:
            if isRunning { return [.stop] }
            notice = nil
            return []
        case .enter: return submit()
        case .tab where input.text.hasPrefix("/image "):
            input.text = "/image " + PathCompletion.complete(String(input.text.dropFirst(7)))
            input.cursor = input.text.count
        case .tab, .function(9): moveFocus(1)
        case .backTab: moveFocus(-1)
        case .control("o"), .function(2): if let focus { toggle(focus) } else { moveFocus(1) }
        case .control("t"), .function(3): toggleAll(); return [.savePreferences(preferences)]
        case .control("g"), .function(4): pinFocused()
        case .control("x"), .function(5): openCompare()
        case .control("r"), .function(6): return regenerate()
        case .function(7): cycleBranch()
        case .function(1): overlay = .help
        case .character("?") where input.isEmpty: overlay = .help
        case .character("[") where input.isEmpty: browse(-1)
        case .character("]") where input.isEmpty: browse(1)
        case .pageUp: scroll += max(1, size.height / 2)
        case .pageDown: scroll = max(0, scroll - max(1, size.height / 2))
        default:
            _ = input.edit(key)
        }
        return []
    }

    private mutating func handleOverlay(_ key: Key, _ overlay: Overlay) -> [Effect] {
        guard case .compare(let stage, let selected, let manual) = overlay else {
            self.overlay = nil   // help: any key closes it
            return []
        }
        let count = lastBranch?.stages[stage].candidates.count ?? 0
        switch key {
        case .escape:
            if manual { return [.stop] }
            self.overlay = nil
        case .left, .up, .backTab:
            self.overlay = .compare(stage: stage, selected: max(0, selected - 1), manual: manual)
        case .right, .down, .tab:
            self.overlay = .compare(stage: stage, selected: min(max(0, count - 1), selected + 1), manual: manual)
        case .enter: return pick(stage: stage, candidate: selected, manual: manual)
        case .character(let c) where c.isNumber:
            guard let digit = c.wholeNumberValue, digit >= 1, digit <= min(9, count) else { break }
            return pick(stage: stage, candidate: digit - 1, manual: manual)
        default: break
        }
        return []
    }

    /// The user's pick in the compare view: answers a waiting manual judge, or branches.
    private mutating func pick(stage: Int, candidate: Int, manual: Bool) -> [Effect] {
        overlay = nil
        if manual {
            pendingPick = nil
            return [.answerPick(candidate)]
        }
        guard let turn = turns.indices.last else { return [] }
        let current = turns[turn].current
        let old = turns[turn].branches[current]
        if old.stages[stage].chosen == candidate {
            turns[turn].branches[current].stages[stage].viewing = candidate
            return []
        }
        if isRunning { notice = "Stop the answer first (Esc) to branch from another candidate."; return [] }
        var branch = Branch()
        branch.from = BranchOrigin(branch: current, stage: stage, candidate: candidate)
        for index in 0...stage { branch.stages[index] = old.stages[index] }
        branch.stages[stage].chosen = candidate
        branch.stages[stage].viewing = candidate
        branch.stages[stage].by = "user"
        branch.running = true
        turns[turn].branches.append(branch)
        turns[turn].current = turns[turn].branches.count - 1
        active = (turn, turns[turn].current)
        runStarted = now; runTokens = 0
        scroll = 0
        notice = "Branch \(turns[turn].branches.count): \(StageName.allCases[stage].title) candidate \(candidate + 1)."
        return [.branch(turn: turn, from: current, stage: StageName.allCases[stage].rawValue, candidate: candidate,
                        settings: settings)]
    }

    var lastBranch: Branch? { turns.last?.branch }

    private mutating func moveFocus(_ step: Int) {
        let count = StageName.allCases.count
        focus = ((focus ?? (step > 0 ? -1 : count)) + step + count) % count
    }

    private mutating func toggle(_ index: Int) {
        guard let turn = turns.indices.last else { return }
        let stage = turns[turn].branch.stages[index]
        turns[turn].branch.stages[index].expanded = !isExpanded(stage)
    }

    private mutating func toggleAll() {
        preferences.expandStages.toggle()
        if let turn = turns.indices.last {
            for index in turns[turn].branch.stages.indices { turns[turn].branch.stages[index].expanded = nil }
        }
        notice = preferences.expandStages ? "Stages expanded by default." : "Stages collapsed by default."
    }

    private mutating func pinFocused() {
        guard let focus, let turn = turns.indices.last else { return }
        turns[turn].branch.stages[focus].pinned.toggle()
    }

    private mutating func browse(_ step: Int) {
        guard let focus, let turn = turns.indices.last else { return }
        let count = turns[turn].branch.stages[focus].candidates.count
        guard count > 1 else { return }
        let viewing = turns[turn].branch.stages[focus].viewing
        turns[turn].branch.stages[focus].viewing = (viewing + step + count) % count
        turns[turn].branch.stages[focus].expanded = true
    }

    private mutating func openCompare() {
        guard let branch = lastBranch else { return }
        let index = focus ?? branch.stages.lastIndex(where: { $0.candidates.count > 1 }) ?? 0
        guard branch.stages[index].candidates.count > 0 else {
            notice = "\(StageName.allCases[index].title) has no candidates yet."
            return
        }
        focus = index
        overlay = .compare(stage: index, selected: branch.stages[index].viewing, manual: false)
    }

    private mutating func cycleBranch() {
        guard let turn = turns.indices.last, turns[turn].branches.count > 1 else { return }
        turns[turn].current = (turns[turn].current + 1) % turns[turn].branches.count
        notice = "Branch \(turns[turn].current + 1) of \(turns[turn].branches.count)."
    }

    mutating func regenerate() -> [Effect] {
        guard let last = turns.last else { notice = "Nothing to regenerate yet."; return [] }
        if isRunning { notice = "An answer is being generated; Esc stops it."; return [] }
        return startTurn(last.question)
    }

    private mutating func startTurn(_ question: String) -> [Effect] {
        turns.append(Turn(question: question))
        let turn = turns.count - 1
        turns[turn].branches[0].running = true
        active = (turn, 0)
        runStarted = now; runTokens = 0
        focus = nil
        scroll = 0
        notice = nil
        return [.ask(turn: turn, question: question, settings: settings)]
    }

    private mutating func submit() -> [Effect] {
        let line = input.take().trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty else { return [] }
        if line.hasPrefix("/") { return command(line) }
        if isRunning { notice = "An answer is being generated; Esc stops it."; return [] }
        return startTurn(line)
    }
}
