/// The terminal user interface (issue 6): an Elm-style app over a `Terminal` protocol with an
/// ncurses driver. Only the module's namespace exists so far; it must not import `Inference`.
public enum TUI {
    /// The ncurses library the TUI links against (`ncursesw`), for diagnostics.
    public static let library = "ncursesw"
}
