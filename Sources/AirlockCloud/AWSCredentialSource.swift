import Foundation

/// Why the operator's AWS credentials could not be read: one line naming the file, the profile and
/// the key at fault.
public struct AWSCredentialError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The operator's AWS credentials, found outside the sandbox where the AWS CLI and SDKs find them,
/// and the placeholder keys the agent holds instead.
public enum AWSCredentialSource {
    /// Every placeholder access key id starts with this, so the proxy can tell that a request was
    /// signed with one (`AKIA` as a long-term key id, then a word no AWS key is likely to spell).
    public static let placeholderPrefix = "AKIAAIRLOCK"

    /// Keys the agent can sign with but which open nothing: the shape of real long-term keys (a
    /// 20-character id, a 40-character secret), new random ones on every call.
    public static func placeholder() -> AWSCredentials {
        var random = SystemRandomNumberGenerator()
        func draw(_ count: Int, from alphabet: String) -> String {
            let characters = Array(alphabet)
            return String((0..<count).map { _ in characters[Int(random.next(upperBound: UInt(characters.count)))] })
        }
        let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return AWSCredentials(accessKeyID: placeholderPrefix + draw(20 - placeholderPrefix.count, from: upper),
                              secretAccessKey: draw(40, from: upper + "abcdefghijklmnopqrstuvwxyz+/"))
    }

    /// Whether `accessKeyID` is one `placeholder()` makes.
    public static func isPlaceholder(_ accessKeyID: String) -> Bool {
        accessKeyID.utf8.count == 20 && accessKeyID.hasPrefix(placeholderPrefix)
    }

    /// The operator's credentials, as botocore's chain finds static ones: the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), else the profile
    /// (`AWS_PROFILE`, `AWS_DEFAULT_PROFILE`, else `default`) in the shared credentials file
    /// (`AWS_SHARED_CREDENTIALS_FILE`, else ~/.aws/credentials; sections `[NAME]`), else in the
    /// config file (`AWS_CONFIG_FILE`, else ~/.aws/config; sections `[profile NAME]`). The region
    /// is `AWS_REGION`, `AWS_DEFAULT_REGION`, else the profile's. `source` names where the keys
    /// were found, for a log line. Nil when there are none anywhere; throws when a named profile
    /// is missing, when keys are half there, or when the profile gets them in a way Airlock does
    /// not follow yet (roles, SSO, `credential_process`).
    public static func load(environment: [String: String], home: String) throws -> (credentials: AWSCredentials, region: String?, source: String)? {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        func expand(_ path: String) -> String {
            path == "~" || path.hasPrefix("~/") ? home + path.dropFirst() : path
        }
        let named = env("AWS_PROFILE") ?? env("AWS_DEFAULT_PROFILE")
        let name = named ?? "default"
        let credentialsFile = expand(env("AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials")
        let configFile = expand(env("AWS_CONFIG_FILE") ?? "~/.aws/config")
        let environmentRegion = env("AWS_REGION") ?? env("AWS_DEFAULT_REGION")

        if env("AWS_ACCESS_KEY_ID") != nil || env("AWS_SECRET_ACCESS_KEY") != nil {
            guard let id = env("AWS_ACCESS_KEY_ID"), let secret = env("AWS_SECRET_ACCESS_KEY") else {
                throw AWSCredentialError("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set in the environment")
            }
            // The keys are complete without any file: a profile's region is a bonus, its errors are not ours.
            let region = environmentRegion
                ?? (try? INIFile(path: configFile).profiles(config: true)[name]?["region"])
                ?? (try? INIFile(path: credentialsFile).profiles(config: false)[name]?["region"])
            let token = env("AWS_SESSION_TOKEN") ?? env("AWS_SECURITY_TOKEN")
            return (AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token), region, "the environment (AWS_ACCESS_KEY_ID)")
        }

        let inCredentials = try INIFile(path: credentialsFile).profiles(config: false)[name]
        let inConfig = try INIFile(path: configFile).profiles(config: true)[name]
        guard inCredentials != nil || inConfig != nil else {
            if named != nil { throw AWSCredentialError("AWS profile \"\(name)\" is in neither \(credentialsFile) nor \(configFile)") }
            return nil
        }
        // botocore merges the two files into one profile, the credentials file winning.
        let profile = (inConfig ?? [:]).merging(inCredentials ?? [:]) { $1 }
        let region = environmentRegion ?? profile["region"]
        // In botocore's chain roles, web identity and SSO come before static keys, so a profile
        // that has them would not be signed with its keys.
        if let key = profile.keys.sorted().first(where: { $0 == "role_arn" || $0 == "web_identity_token_file" || $0.hasPrefix("sso_") }) {
            throw unsupported(name, key)
        }
        if let keys = try staticKeys(inCredentials, profile: name, file: credentialsFile) {
            return (keys, region, "\(credentialsFile), profile \(name)")
        }
        if profile["credential_process"] != nil { throw unsupported(name, "credential_process") }
        if let keys = try staticKeys(inConfig, profile: name, file: configFile) {
            return (keys, region, "\(configFile), profile \(name)")
        }
        return nil
    }

    private static func unsupported(_ profile: String, _ key: String) -> AWSCredentialError {
        AWSCredentialError("AWS profile \"\(profile)\" gets its credentials by \(key), which Airlock does not support yet; "
            + "give it static keys or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    }

    private static func staticKeys(_ section: [String: String]?, profile: String, file: String) throws -> AWSCredentials? {
        guard let section, section["aws_access_key_id"] != nil || section["aws_secret_access_key"] != nil else { return nil }
        guard let id = section["aws_access_key_id"], !id.isEmpty, let secret = section["aws_secret_access_key"], !secret.isEmpty else {
            throw AWSCredentialError("AWS profile \"\(profile)\" in \(file) has only one of aws_access_key_id and aws_secret_access_key")
        }
        let token = section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
    }
}

/// The AWS CLI's INI files as botocore's configparser reads them: `[section]`, `key = value` (or
/// `key: value`; keys case-insensitive), whole-line `#` and `;` comments. Indented lines after a
/// key continue it, which is how nested settings (`s3 =` and its indented lines) are written; they
/// are skipped, being nothing credentials need.
struct INIFile {
    var sections: [(name: String, values: [String: String])] = []

    /// A missing file is an empty one.
    init(path: String) throws {
        var text = ""
        if FileManager.default.fileExists(atPath: path) {
            do {
                text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            } catch {
                throw AWSCredentialError("cannot read \(path): \(error.localizedDescription)")
            }
        }
        try self.init(text: text, path: path)
    }

    init(text: String, path: String) throws {
        var inKey = false
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if line.first?.isWhitespace == true && inKey { continue }
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") {
                let name = trimmed.dropFirst().dropLast().split(whereSeparator: \.isWhitespace).joined(separator: " ")
                sections.append((name, [:]))
                inKey = false
            } else if let separator = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }), !sections.isEmpty {
                let key = trimmed[..<separator].trimmingCharacters(in: .whitespaces).lowercased()
                sections[sections.count - 1].values[key] = trimmed[trimmed.index(after: separator)...].trimmingCharacters(in: .whitespaces)
                inKey = true
            } else {
                throw AWSCredentialError("\(path) line \(number + 1) is neither [section] nor key = value")
            }
        }
    }

    /// Profiles by name, a later section of the same name adding to an earlier one. In the config
    /// file a profile is `[profile NAME]` (or `[default]`), other sections are not profiles; in the
    /// credentials file every section is one.
    func profiles(config: Bool) -> [String: [String: String]] {
        var profiles: [String: [String: String]] = [:]
        for (name, values) in sections {
            let words = name.split(separator: " ")
            let profile: String?
            if !config { profile = name }
            else if name == "default" { profile = "default" }
            else if words.count == 2 && words[0] == "profile" { profile = String(words[1]) }
            else { profile = nil }
            if let profile { profiles[profile, default: [:]].merge(values) { $1 } }
        }
        return profiles
    }
}
