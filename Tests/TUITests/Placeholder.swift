import Testing
@testable import TUI
@Test func placeholder() {}
