import Foundation
import Testing

@testable import AirlockPolicy

@Suite struct ShippedProfileTests {
    @Test(arguments: shippedProfileNames)
    func everyShippedProfileLoads(name: String) throws {
        let profile = try shippedLoader.load(name)
        #expect(profile.name == name)
        #expect(profile.sources.last?.hasSuffix("/profiles/\(name).toml") == true)
        #expect(profile.summary != nil)
    }

    @Test func theExampleInTheDocumentationLoads() throws {
        let doc = try String(contentsOfFile: shippedProfilesDirectory + "/../docs/profiles.md", encoding: .utf8)
        let example = try #require(doc.components(separatedBy: "## Example\n\n```toml\n").last?.components(separatedBy: "```").first)
        let dir = ProfileDirectory()
        let profile = try shippedLoader.load(dir.write("example.toml", example))
        #expect(profile.readOnly == ["deploy"])
        #expect(profile.envPass.contains("ANTHROPIC_API_KEY"))
        #expect(profile.protect.last?.operations == [.delete, .rename])
    }

    @Test func defaultHidesCredentialsAndAirlocksOwnState() throws {
        let profile = try shippedLoader.load("default")
        for path in ["~/.ssh", "~/.aws", "~/.kube", "~/.config/gcloud", "~/.azure", "~/.docker", "~/.netrc", "~/.gnupg",
                     "~/.git-credentials", "/run/secrets", "~/.local/state/airlock", "~/.config/airlock", "/var/lib/airlock"] {
            #expect(profile.hide.contains(path), "default should hide \(path)")
        }
        #expect(profile.backend == .auto)
        #expect(profile.network == .proxy)
        #expect(profile.networkPolicy.inspects(host: "cloudformation.us-east-1.amazonaws.com", port: 443))
        #expect(profile.networkPolicy.inspects(host: "compute.googleapis.com", port: 443))
        #expect(!profile.networkPolicy.inspects(host: "github.com", port: 443))
        #expect(!profile.allowUnconfined)
        #expect(profile.quorum == 2)
        #expect(profile.timeoutSeconds == 15 * 60)
        #expect(profile.grantWindowSeconds == 10 * 60)
    }

    @Test func defaultHoldsEveryDestructiveOperationOnWhatMatters() throws {
        let profile = try shippedLoader.load("default")
        let rules = try resolvedProtectRules(profile: profile, workspace: "/w", home: "/home/u")
        // State files: every destructive operation is held.
        for path in ["/w/infra/prod.tfstate", "/w/prod.tfstate.backup", "/w/.env", "/w/services/api/.env"] {
            for operation in FileOperation.allCases {
                let rule = rules.firstMatch(Array(path.utf8), operation: operation)
                #expect(rule?.action == .hold, "\(operation) on \(path)")
            }
        }
        // The workspace and the repository directory themselves: removing or replacing them is held;
        // their contents are the agent's to change (git rewrites .git on every commit).
        for path in ["/w", "/w/.git"] {
            for operation in [FileOperation.delete, .rename] {
                #expect(rules.firstMatch(Array(path.utf8), operation: operation)?.action == .hold, "\(operation) on \(path)")
            }
            #expect(rules.firstMatch(Array(path.utf8), operation: .write) == nil, "write on \(path)")
        }
        for path in ["/w/src/main.swift", "/w/.envrc", "/w/.gitignore", "/other/.git/config", "/w/.git/index"] {
            #expect(rules.firstMatch(Array(path.utf8), operation: .delete) == nil, "\(path) should not be protected")
        }
        #expect(profile.protect.allSatisfy { $0.name != nil })
        #expect(profile.hide.contains("/etc/airlock"))
    }

    @Test func strictHasNoNetworkAndNothingWritableButTheWorkspace() throws {
        let profile = try shippedLoader.load("strict")
        #expect(profile.network == .none)
        #expect(profile.readWrite.isEmpty)
        #expect(profile.backend == .auto)
        #expect(profile.hide == (try shippedLoader.load("default")).hide)
    }

    @Test func containerUsesLandlockAlone() throws {
        #expect(try shippedLoader.load("container").backend == .landlock)
    }

    @Test func soloNeedsOneApproval() throws {
        #expect(try shippedLoader.load("solo").quorum == 1)
    }

    @Test func agentProfilesCanWriteTheirOwnState() throws {
        #expect(try shippedLoader.load("claude-code").readWrite == ["~/.claude", "~/.claude.json"])
        #expect(try shippedLoader.load("codex").readWrite == ["~/.codex"])
    }

    @Test(arguments: [
        ("claude-code", "ANTHROPIC_API_KEY"), ("claude-code", "ANTHROPIC_AUTH_TOKEN"),
        ("claude-code", "CLAUDE_CODE_OAUTH_TOKEN"), ("codex", "OPENAI_API_KEY"), ("codex", "CODEX_API_KEY"),
    ])
    func agentProfilesPassTheirCredentialWhichDefaultDrops(profileName: String, variable: String) throws {
        let env = [variable: "secret", "GITHUB_TOKEN": "other secret", "PATH": "/usr/bin"]
        let passed = EnvironmentFilter.filter(env, profile: try shippedLoader.load(profileName), extraPass: [])
        #expect(passed == [variable: "secret", "PATH": "/usr/bin"])
        let dropped = EnvironmentFilter.filter(env, profile: try shippedLoader.load("default"), extraPass: [])
        #expect(dropped == ["PATH": "/usr/bin"])
    }

    @Test(arguments: [
        "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AZURE_CLIENT_SECRET", "GOOGLE_APPLICATION_CREDENTIALS", "KUBECONFIG",
        "GITHUB_TOKEN", "NPM_TOKEN", "MY_SECRET", "DB_PASSWORD", "OPENAI_API_KEY", "DOCKER_CREDENTIALS",
    ])
    func defaultDropsCredentials(variable: String) throws {
        let env = EnvironmentFilter.filter([variable: "x"], profile: try shippedLoader.load("default"), extraPass: [])
        #expect(env.isEmpty)
    }

    @Test("The default profile keeps the cloud CLIs' non-secret settings", arguments: [
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_DEFAULT_OUTPUT", "AWS_PAGER", "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS", "AWS_SDK_LOAD_CONFIG", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT", "AWS_CA_BUNDLE", "AWS_EC2_METADATA_DISABLED", "CLOUDSDK_CORE_PROJECT",
        "CLOUDSDK_COMPUTE_REGION", "CLOUDSDK_COMPUTE_ZONE", "GOOGLE_CLOUD_PROJECT", "AZURE_LOCATION",
        "AZURE_DEFAULTS_GROUP", "AZURE_DEFAULTS_LOCATION", "AZURE_SUBSCRIPTION_ID",
    ])
    func defaultKeepsCloudSettings(variable: String) throws {
        let env = EnvironmentFilter.filter([variable: "x"], profile: try shippedLoader.load("default"), extraPass: [])
        #expect(env == [variable: "x"])
    }

    @Test("The default profile still drops every cloud credential", arguments: [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
        "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_PASSWORD", "AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE",
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
    ])
    func defaultDropsCloudCredentials(variable: String) throws {
        let env = EnvironmentFilter.filter([variable: "x", "AWS_REGION": "eu-west-1"],
                                           profile: try shippedLoader.load("default"), extraPass: [])
        #expect(env == ["AWS_REGION": "eu-west-1"])
    }

    @Test(arguments: ["PATH", "HOME", "TERM", "LANG", "EDITOR", "SSH_AUTH_SOCK_NOT"])
    func defaultKeepsOrdinaryVariables(variable: String) throws {
        let env = EnvironmentFilter.filter([variable: "x"], profile: try shippedLoader.load("default"), extraPass: [])
        #expect(env == [variable: "x"])
    }
}
