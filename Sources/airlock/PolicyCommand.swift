import AirlockCloud
import AirlockPolicy
import AirlockSandbox
import ArgumentParser
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Ask the policy about an operation.", subcommands: [Explain.self])

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "explain", 
            abstract: "Print which rule matches a command line (wrappers looked through included) or a cloud API request, and why.",
            discussion: """
                A command line: airlock policy explain -- COMMAND [ARGS...]
                A request: airlock policy explain --url https://cloudformation.us-east-1.amazonaws.com/ \
                  --method POST -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0' \
                  -H 'Content-Type: application/x-www-form-urlencoded' --data 'Action=DeleteStack&StackName=prod&Version=2010-05-15'
                (AWS requests are recognised by their signature, so give the Authorization header; any signature value does.)
                Exit status 3 when a rule matches.
                """)
        @Option(help: "Profile name or path.") var profile = "default"
        @Option(help: "The workspace the command would run in (default: the current directory).") var workspace: String?
        @Option(help: "A cloud API request's URL (https://host[:port]/path?query): explain the request instead of a command.") var url: String?
        @Option(help: "The request's method.") var method = "GET"
        @Option(name: [.customShort("H"), .long], help: ArgumentHelp("A request header, 'Name: value' (repeatable).", valueName: "header"))
        var header: [String] = []
        @Option(help: ArgumentHelp("The request's body; @FILE reads it from FILE.", valueName: "body")) var data: String?
        @Flag(help: "The URL's host is a Kubernetes API server.") var kubernetes = false
        @Argument(parsing: .postTerminator, help: "The command line, after --.") var argv: [String] = []

        func validate() throws {
            if url == nil && argv.isEmpty {
                throw ValidationError("nothing to explain: airlock policy explain -- COMMAND [ARGS...], or --url URL [--method M] [-H 'Name: value'] [--data BODY]")
            }
            if url != nil && !argv.isEmpty { throw ValidationError("give either a command line or --url, not both") }
            if url == nil && (data != nil || !header.isEmpty || kubernetes) {
                throw ValidationError("--data, --header and --kubernetes describe a request: give its --url too")
            }
        }

        func run() throws {
            try reportingErrors {
                let loaded = try profileLoader().load(profile)
                if let url { return try explainRequest(url, profile: loaded) }
                let env = ProcessInfo.processInfo.environment
                let home = env["HOME"] ?? "/"
                let here = FileManager.default.currentDirectoryPath
                let ws = expandPath(workspace ?? here, home: home, relativeTo: here)
                let rules = try resolvedProtectRules(profile: loaded, workspace: ws, home: home)
                let context = ExecContext(workspace: Array(ws.utf8), cwd: Array(here.utf8), home: Array(home.utf8), protectedRules: rules)
                let classifier = ExecClassifier(profile: loaded)
                let bytes = CommandLine.arguments.drop { $0 != "--" }.dropFirst().map { Array($0.utf8) }
                let envBytes = env.map { Array("\($0.key)=\($0.value)".utf8) }
                print(classifier.explain(argv: bytes, environment: envBytes, context: context), terminator: "")
                if classifier.classify(argv: bytes, environment: envBytes, context: context) == nil { return }
                throw ExitCode(3) // a rule matches: scripts can tell
            }
        }

        private func explainRequest(_ url: String, profile: Profile) throws {
            guard let parsed = URLComponents(string: url), let scheme = parsed.scheme, ["https", "http"].contains(scheme),
                  let host = parsed.host, !host.isEmpty else {
                throw ValidationError("--url \(url.debugDescription): expected https://HOST[:PORT]/PATH[?QUERY]")
            }
            var headers: [(name: String, value: String)] = [("Host", parsed.port.map { "\(host):\($0)" } ?? host)]
            for line in header {
                guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                    throw ValidationError("--header \(line.debugDescription): expected 'Name: value'")
                }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            var body: [UInt8] = []
            if let data {
                if data.hasPrefix("@") {
                    guard let bytes = FileManager.default.contents(atPath: String(data.dropFirst())) else {
                        throw ValidationError("--data \(data): cannot read \(data.dropFirst())")
                    }
                    body = Array(bytes)
                } else {
                    body = Array(data.utf8)
                }
            }
            let path = parsed.percentEncodedPath.isEmpty ? "/" : parsed.percentEncodedPath
            let request = APIRequest(
                method: method.uppercased(), host: host.lowercased(), port: parsed.port ?? (scheme == "https" ? 443 : 80),
                target: path + (parsed.percentEncodedQuery.map { "?" + $0 } ?? ""), headers: headers, body: body)
            let classifier = APIClassifier(kubernetesHosts: kubernetes ? [host.lowercased(): host.lowercased()] : [:])
            let classified: ClassifiedRequest?
            do { classified = try classifier.classify(request) } catch {
                print("request: \(request.method) \(url)\nrefused: it cannot be classified: \(error) (the proxy never passes such a request through)")
                throw ExitCode(3)
            }
            guard let classified else {
                print("request: \(request.method) \(url)\nnot a cloud API request airlock classifies (no AWS signature, and not a Kubernetes, Google Cloud or Azure API host): no [[api]] rule applies")
                return
            }
            if let aws = classified.aws { print("aws: \(aws.protocol.rawValue) protocol, signed for \(aws.signing.service) in \(aws.signing.region)") }
            let rules = APIRuleMatcher(profile: profile)
            print(rules.explain(classified.call), terminator: "")
            if rules.decide(classified.call) != nil { throw ExitCode(3) }
        }
    }
}
