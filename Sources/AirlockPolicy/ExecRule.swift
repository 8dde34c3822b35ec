/// Where a command's path arguments land, for rules such as "`rm -r` on the workspace root".
public enum ExecTarget: String, Sendable, CaseIterable, Comparable {
    /// `/`.
    case root
    /// The home directory itself (`rm -r ~`, `rm -r ~/*`).
    case home
    /// The workspace itself or a directory containing it (`rm -r .` at the top, `rm -r ..`).
    case workspaceRoot = "workspace-root"
    /// A path a protect rule matches, or a directory above one's fixed part (`rm -r .git`).
    case protected
    /// Anything that is neither the workspace nor inside it.
    case outsideWorkspace = "outside-workspace"

    /// Declaration order, most specific first: the order a reason names them in.
    public static func < (a: ExecTarget, b: ExecTarget) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One `[[exec]]` table as written in a profile: a command line shape that is destructive.
///
/// A rule matches a simple command (after wrappers such as `sh -c`, `sudo` and `env` have been
/// looked through, see `ExecClassifier`) when every condition it states holds. Every pattern is
/// a byte glob (`*` any run of bytes, `?` one byte) and may list alternatives with `|`:
/// `"terraform|tofu"`, `"delete-*|terminate-*"`.
public struct ExecRule: Sendable, Equatable {
    /// Shown to approvers and in `airlock policy explain`; unique within a profile.
    public var name: String
    /// The executable's basename, then the leading words (subcommands) that must follow it.
    /// A word may be preceded by options and their values (`git -C dir push`); the element `**`
    /// stands for any number of words (`["gcloud", "**", "delete"]`).
    public var argv: [String]
    /// At least one of these options is present (when not empty). `-r` is found in bundles
    /// (`-rf`); `--name` also matches `--name=value`; `--name=v` and `-x=v` match a value given
    /// either attached or as the next argument; `-word` (one dash, several letters) matches that
    /// token as a whole, as `terraform -destroy` and `find -delete` spell options; `--` is the
    /// end-of-options marker itself.
    public var flags: [String]
    /// Every one of these options is present.
    public var allFlags: [String]
    /// None of these is present: entries starting with `-` are options as in `flags`, others are
    /// globs over positional arguments (`help` for `aws … help`).
    public var unless: [String]
    /// Some positional argument after the matched words matches one of these globs.
    public var args: [String]
    /// Some positional argument after the matched words, resolved against the working
    /// directory, lands on one of these.
    public var targets: [ExecTarget]
    /// Some argument, or text the command reads on its standard input as far as a shell script
    /// shows it, holds an SQL (or Redis) statement starting with these words: case-insensitive
    /// word patterns separated by spaces; `!WORD` means no later word of the statement matches
    /// (`"DELETE FROM * !WHERE"`).
    public var sql: [String]
    /// Some environment variable matches one of these `NAME=VALUE` globs (`TF_CLI_ARGS*=*-destroy*`);
    /// a pattern without `=` only asks that the variable be set.
    public var env: [String]
    public var action: ProtectAction

    public init(
        name: String, argv: [String], flags: [String] = [], allFlags: [String] = [], unless: [String] = [],
        args: [String] = [], targets: [ExecTarget] = [], sql: [String] = [], env: [String] = [],
        action: ProtectAction = .hold
    ) {
        self.name = name
        self.argv = argv
        self.flags = flags
        self.allFlags = allFlags
        self.unless = unless
        self.args = args
        self.targets = targets
        self.sql = sql
        self.env = env
        self.action = action
    }
}
