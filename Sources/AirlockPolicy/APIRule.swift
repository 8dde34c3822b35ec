/// The cloud providers whose requests the proxy classifies, as `[[api]]` rules name them.
public enum APIProvider: String, Sendable, CaseIterable {
    case aws
    case kubernetes
    case gcp
    case azure
}

/// One `[[api]]` table as written in a profile: a kind of cloud API request that destroys.
///
/// A rule matches a classified request (`APICall`) when every condition it states holds; an empty
/// list states no condition. Patterns are globs (`*` any run of characters, `/` included, `?` one
/// byte) and may list alternatives with `|`: `"Delete*|Terminate*"`, `"aws|gcp"`.
///
/// Providers and services are compared case-insensitively (Azure's resource providers are
/// case-insensitive, and botocore's service names are all lower case anyway). AWS operations are
/// compared case-sensitively, as AWS reads them: `DeleteStack`, never `deletestack`. Other
/// providers' operations are compared case-insensitively: Azure routes actions regardless of
/// case, and the Kubernetes and Google classifiers report verbs and methods in one case, so
/// ignoring it can only make a rule match more. Resources are compared case-sensitively except
/// for Azure, whose resource ids are case-insensitive.
public struct APIRule: Sendable, Equatable {
    /// Shown to approvers; unique within a profile, also across `extends`.
    public var name: String
    /// `aws`, `kubernetes`, `gcp`, `azure` or `*`.
    public var provider: [String]
    /// AWS: botocore's service name (`s3`, `cloudformation`); Kubernetes: the API group (`core`,
    /// `apps`); Google Cloud: the API (`compute`); Azure: the resource provider (`Microsoft.Compute`).
    public var service: [String]
    /// `DeleteStack`, `delete`, `deletecollection`, `stop`, `deallocate`, …
    public var operation: [String]
    /// Globs over the resources the request names; any one matching is enough.
    public var resources: [String]
    /// The call has at least one of these effects (`overwrite`, `scale-to-zero`, …).
    public var effects: [String]
    /// The call has none of these effects (`dry-run`).
    public var unlessEffects: [String]
    public var action: ProtectAction

    public init(
        name: String, provider: [String], service: [String] = [], operation: [String] = [], resources: [String] = [],
        effects: [String] = [], unlessEffects: [String] = [], action: ProtectAction = .hold
    ) {
        self.name = name
        self.provider = provider
        self.service = service
        self.operation = operation
        self.resources = resources
        self.effects = effects
        self.unlessEffects = unlessEffects
        self.action = action
    }
}
