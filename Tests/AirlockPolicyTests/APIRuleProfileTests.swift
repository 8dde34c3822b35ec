import Foundation
import Testing

@testable import AirlockPolicy

/// `[[api]]` tables in profile files: read, checked with file:line:key errors, merged through
/// `extends`, matched, explained, printed back — and the catalogue `default` ships.
@Suite struct APIRuleProfileTests {
    @Test func everyKeyIsReadAndAStringIsAListOfOne() throws {
        let dir = ProfileDirectory()
        let file = dir.write("p.toml", """
            [[api]]
            name = "everything"
            provider = ["aws|gcp", "azure"]
            service = ["s3", "storage|Microsoft.*"]
            operation = "Delete*|delete"
            resources = ["bucket/prod-*", "b/prod-*"]
            effects = ["overwrite", "expire-objects"]
            unless_effects = "dry-run"
            action = "deny"

            [[api]]
            name = "minimal"
            provider = "*"
            """)
        let profile = try dir.loader.load(file)
        #expect(profile.api == [
            APIRule(name: "everything", provider: ["aws|gcp", "azure"], service: ["s3", "storage|Microsoft.*"],
                    operation: ["Delete*|delete"], resources: ["bucket/prod-*", "b/prod-*"], effects: ["overwrite", "expire-objects"],
                    unlessEffects: ["dry-run"], action: .deny),
            APIRule(name: "minimal", provider: ["*"], action: .hold),
        ])
    }

    static let badRules: [BadProfile] = [
        BadProfile("[[api]]\nprovider = \"aws\"\n", key: "api.name", line: 1, "needs a \"name\""),
        BadProfile("[[api]]\nname = \"  \"\nprovider = \"aws\"\n", key: "api.name", line: 2, "cannot be blank"),
        BadProfile("[[api]]\nname = 3\nprovider = \"aws\"\n", key: "api.name", line: 2, "expected a string, got integer"),
        BadProfile("[[api]]\nname = \"airlock: x\"\nprovider = \"aws\"\n", key: "api.name", line: 2, "Airlock's own"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\n[[api]]\nname = \"a\"\nprovider = \"gcp\"\n", key: "api.name", line: 5,
                   "already named \"a\""),
        BadProfile("[[api]]\nname = \"a\"\n", key: "api.provider", line: 1, "needs \"provider\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"amazon\"\n", key: "api.provider", line: 3,
                   "expected providers among aws, kubernetes, gcp, azure or \"*\", got \"amazon\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws|k8s\"\n", key: "api.provider", line: 3, "got \"k8s\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"AWS\"\n", key: "api.provider", line: 3, "got \"AWS\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = 3\n", key: "api.provider", line: 3,
                   "expected a string or an array of strings, got integer"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = []\n", key: "api.provider", line: 3, "an empty list matches nothing"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws|\"\n", key: "api.provider", line: 3, "empty alternative"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\nservice = \"s3||ec2\"\n", key: "api.service", line: 4, "empty alternative"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\nservice = [\"s3\", 1]\n", key: "api.service", line: 4,
                   "got an array containing integer"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\noperation = \"deleteStack\"\n", key: "api.operation", line: 4,
                   "\"deleteStack\" would never match"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\noperation = [\"Get*\", \"Put*|terminate*\"]\n", key: "api.operation",
                   line: 4, "\"terminate*\" would never match"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"kubernetes\"\noperation = \"remove\"\n", key: "api.operation", line: 4,
                   "expected Kubernetes verbs among get, list, watch, create, update, patch, delete, deletecollection, got \"remove\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\noperation = []\n", key: "api.operation", line: 4, "leave the key out"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\nresources = true\n", key: "api.resources", line: 4,
                   "expected a string or an array of strings, got boolean"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\neffects = [\"Dry Run\"]\n", key: "api.effects", line: 4,
                   "expected effect names such as \"dry-run\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\neffects = []\n", key: "api.effects", line: 4, "matches nothing"),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\nunless_effects = \"dry_run\"\n", key: "api.unless_effects", line: 4,
                   "got \"dry_run\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\naction = \"block\"\n", key: "api.action", line: 4,
                   "expected one of hold, deny, allow, audit, got \"block\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\neffect = [\"overwrite\"]\n", key: "api.effect", line: 4,
                   "did you mean \"effects\""),
        BadProfile("[[api]]\nname = \"a\"\nprovider = \"aws\"\n[[api]]\nname = \"b\"\nprovider = \"aws\"\nunless = []\n", key: "api.unless",
                   line: 7, "unknown key"),
        BadProfile("api = 3\n", key: "api", line: 1, "expected [[api]] tables"),
        BadProfile("[api]\nname = \"a\"\n", key: "api", line: 1, "expected [[api]] tables"),
        BadProfile("apis = []\n", key: "apis", line: 1, "did you mean \"api\""),
    ]

    @Test(arguments: badRules)
    func aBadAPIRuleIsRejectedWithOneLineNamingItsFileLineAndKey(bad: BadProfile) throws {
        let error = try #require(loadError(bad.text))
        #expect(error.key == bad.key)
        #expect(error.line == bad.line)
        #expect(error.message.contains(bad.message), "\(error)")
        #expect(!error.description.contains("\n"))
        #expect(error.description.hasSuffix("p.toml:\(bad.line ?? 0): \(bad.key ?? ""): \(error.message)"))
    }

    @Test func aChildsRulesComeAfterItsParentsAndCannotReuseTheirNames() throws {
        let dir = ProfileDirectory()
        dir.write("base.toml", "[[api]]\nname = \"k8s delete\"\nprovider = \"kubernetes\"\noperation = \"delete\"\n")
        dir.write("child.toml", "extends = \"base\"\n[[api]]\nname = \"k8s patch\"\nprovider = \"kubernetes\"\noperation = \"patch\"\naction = \"audit\"\n")
        let child = try dir.loader.load("child")
        #expect(child.api.map(\.name) == ["k8s delete", "k8s patch"])
        // An exec rule may share a name with an api rule: they are told apart by their kind.
        dir.write("mixed.toml", "extends = \"child\"\n[[exec]]\nname = \"k8s delete\"\nargv = [\"kubectl\", \"delete\"]\n")
        #expect(try dir.loader.load("mixed").exec.map(\.name) == ["k8s delete"])

        let clash = dir.write("clash.toml", "extends = \"child\"\n\n[[api]]\nname = \"ok\"\nprovider = \"*\"\n[[api]]\nname = \"k8s delete\"\nprovider = \"*\"\naction = \"allow\"\n")
        let error = try #require(throws: ProfileError.self) { try dir.loader.load("clash") }
        #expect(error.file == clash)
        #expect(error.line == 7)
        #expect(error.key == "api.name")
        #expect(error.message.contains("an api rule named \"k8s delete\" is already defined by a profile this one extends"))
    }

    @Test func theFirstRuleThatMatchesDecidesAndNoMatchLetsTheRequestThrough() {
        var profile = Profile()
        profile.api = [
            APIRule(name: "dev stacks", provider: ["aws"], service: ["cloudformation"], resources: ["stack/dev-*"], action: .allow),
            APIRule(name: "stack delete", provider: ["aws"], operation: ["DeleteStack"]),
            APIRule(name: "everything aws", provider: ["aws"], action: .audit),
        ]
        let matcher = APIRuleMatcher(profile: profile)
        let dev = APICall(provider: "aws", service: "cloudformation", operation: "DeleteStack", resources: ["stack/dev-1"])
        let prod = APICall(provider: "aws", service: "cloudformation", operation: "DeleteStack", resources: ["stack/prod-env"])
        let list = APICall(provider: "aws", service: "s3", operation: "ListBuckets")
        let k8s = APICall(provider: "kubernetes", service: "core", operation: "delete", resources: ["namespaces/prod"])
        #expect(matcher.decide(dev).map { [$0.rule.name, $0.action.rawValue] } == ["dev stacks", "allow"])
        #expect(matcher.decide(prod).map { [$0.rule.name, $0.action.rawValue] } == ["stack delete", "hold"])
        #expect(matcher.decide(list).map { [$0.rule.name, $0.action.rawValue] } == ["everything aws", "audit"])
        #expect(matcher.decide(k8s) == nil)
    }

    @Test func effectsNeedOneInCommonAndUnlessEffectsNone() {
        var profile = Profile()
        profile.api = [APIRule(name: "overwrite", provider: ["aws"], effects: ["overwrite", "expire-objects"], unlessEffects: ["dry-run"])]
        let matcher = APIRuleMatcher(profile: profile)
        func held(_ effects: [String]) -> Bool {
            matcher.decide(APICall(provider: "aws", service: "s3", operation: "PutObject", effects: effects)) != nil
        }
        #expect(held(["overwrite"]))
        #expect(held(["write-object", "expire-objects"]))
        #expect(!held([]))
        #expect(!held(["write-object"]))
        #expect(!held(["overwrite", "dry-run"]))
        #expect(!held(["Overwrite"]))
    }

    @Test func resourcesMatchWhenAnyResourceMatchesAnyGlobAcrossSlashes() {
        var profile = Profile()
        profile.api = [APIRule(name: "prod", provider: ["kubernetes"], resources: ["namespaces/prod/*", "nodes/?"])]
        let matcher = APIRuleMatcher(profile: profile)
        func held(_ resources: [String]) -> Bool {
            matcher.decide(APICall(provider: "kubernetes", service: "apps", operation: "delete", resources: resources)) != nil
        }
        #expect(held(["namespaces/prod/deployments/web/scale"]))
        #expect(held(["namespaces/dev/pods/a", "nodes/1"]))
        #expect(!held(["namespaces/prod"]))
        #expect(!held(["nodes/12"]))
        #expect(!held([]))
    }

    @Test func awsOperationsAreCaseSensitiveAndEverythingElseIsNot() {
        var profile = Profile()
        profile.api = [
            APIRule(name: "aws", provider: ["aws"], service: ["CloudFormation"], operation: ["Delete*"], resources: ["stack/Prod"]),
            APIRule(name: "azure", provider: ["azure"], service: ["microsoft.compute"], operation: ["powerOff"],
                    resources: ["subscriptions/*/resourceGroups/prod/*"]),
            APIRule(name: "k8s", provider: ["kubernetes"], operation: ["DELETE"]),
        ]
        let matcher = APIRuleMatcher(profile: profile)
        func rule(_ call: APICall) -> String? { matcher.decide(call)?.rule.name }
        #expect(rule(APICall(provider: "aws", service: "cloudformation", operation: "DeleteStack", resources: ["stack/Prod"])) == "aws")
        #expect(rule(APICall(provider: "AWS", service: "cloudformation", operation: "DeleteStack", resources: ["stack/Prod"])) == "aws")
        #expect(rule(APICall(provider: "aws", service: "cloudformation", operation: "deleteStack", resources: ["stack/Prod"])) == nil)
        #expect(rule(APICall(provider: "aws", service: "cloudformation", operation: "DeleteStack", resources: ["stack/prod"])) == nil)
        #expect(rule(APICall(provider: "azure", service: "Microsoft.Compute", operation: "poweroff",
                             resources: ["subscriptions/S/resourcegroups/PROD/providers/Microsoft.Compute/virtualMachines/vm1"])) == "azure")
        #expect(rule(APICall(provider: "kubernetes", service: "core", operation: "delete")) == "k8s")
    }

    @Test func explainShowsTheCallEveryMatchingRuleTheOnesAnEffectExcludesAndTheDecision() {
        var profile = Profile()
        profile.api = [
            APIRule(name: "terminate", provider: ["aws"], operation: ["Terminate*"], unlessEffects: ["dry-run"]),
            APIRule(name: "ec2", provider: ["aws"], service: ["ec2"], action: .audit),
            APIRule(name: "gcp", provider: ["gcp"], action: .deny),
        ]
        let matcher = APIRuleMatcher(profile: profile)
        let terminate = APICall(provider: "aws", service: "ec2", operation: "TerminateInstances", region: "us-east-1",
                                resources: ["instance/i-1"])
        #expect(matcher.explain(terminate) == """
            call: aws ec2 TerminateInstances instance/i-1 in us-east-1
            rule "terminate" (hold): operation TerminateInstances matches "Terminate*"
            rule "ec2" (audit) (also matches; the rule above decides): service ec2 matches "ec2"
            decision: hold for sign-off, by rule "terminate"

            """)
        var dryRun = terminate
        dryRun.effects = ["dry-run"]
        #expect(matcher.explain(dryRun) == """
            call: aws ec2 TerminateInstances instance/i-1 in us-east-1
            effects: dry-run
            rule "terminate" (hold) does not apply: operation TerminateInstances matches "Terminate*", but the call is dry-run
            rule "ec2" (audit): service ec2 matches "ec2"
            decision: audit (it goes through, and is recorded), by rule "ec2"

            """)
        #expect(matcher.explain(APICall(provider: "gcp", service: "compute", operation: "get")).hasSuffix("""
            rule "gcp" (deny): every gcp call
            decision: deny (the request is refused), by rule "gcp"

            """))
        #expect(matcher.explain(APICall(provider: "azure", service: "Microsoft.Compute", operation: "get"))
            == "call: azure Microsoft.Compute get\ndecision: no rule matches; it goes through\n")
    }

    @Test func apiRulesSurviveTheRoundTrip() throws {
        var profile = Profile(name: "odd")
        profile.api = [
            APIRule(name: "quote \" and é", provider: ["aws|gcp"], service: ["s3"], operation: ["Delete*", "Put*"],
                    resources: ["bucket/\"x\"*"], effects: ["overwrite"], unlessEffects: ["dry-run"], action: .audit),
            APIRule(name: "plain", provider: ["*"]),
        ]
        let dir = ProfileDirectory()
        var back = try ProfileLoader(searchPaths: []).load(dir.write("shown.toml", profile.toTOML()))
        back.name = profile.name
        back.sources = profile.sources
        #expect(back == profile)
        #expect(profile.toTOML().hasSuffix("\n[[api]]\nname = \"plain\"\nprovider = [\"*\"]\naction = \"hold\"\n"))
    }

    @Test func theDocumentationDescribesEveryAPIKeyAndEveryShippedRule() throws {
        let doc = try String(contentsOfFile: shippedProfilesDirectory + "/../docs/api.md", encoding: .utf8)
        for key in ProfileDecoder.apiKeys { #expect(doc.contains("| `\(key)`"), "docs/api.md lacks \(key)") }
        for rule in try shippedLoader.load("default").api { #expect(doc.contains("| \(rule.name) |"), "docs/api.md lacks \(rule.name)") }
        let example = try #require(doc.components(separatedBy: "## Adding a rule").last?
            .components(separatedBy: "```toml\n").last?.components(separatedBy: "```").first)
        let dir = ProfileDirectory()
        let profile = try shippedLoader.load(dir.write("example.toml", example))
        #expect(profile.api.suffix(3).map(\.name) == ["pods exec in prod", "state bucket writes", "Lambda code in production"])
    }

    // MARK: - The shipped catalogue

    static let held: [(APICall, String)] = [
        (aws("cloudformation", "DeleteStack", "stack/prod-env"), "AWS delete or purge"),
        (aws("s3", "DeleteBucket", "bucket/logs"), "AWS delete or purge"),
        (aws("s3", "DeleteObjects", "bucket/logs"), "AWS delete or purge"),
        (aws("s3", "DeleteObject", "bucket/logs/key/a.txt"), "AWS delete or purge"),
        (aws("rds", "DeleteDBInstance", "db/prod"), "AWS delete or purge"),
        (aws("dynamodb", "DeleteTable", "table/users"), "AWS delete or purge"),
        (aws("ecr", "BatchDeleteImage", "repository/api"), "AWS delete or purge"),
        (aws("sqs", "PurgeQueue", "queue/jobs"), "AWS delete or purge"),
        (aws("ec2", "TerminateInstances", "instance/i-1"), "AWS terminate"),
        (aws("ec2", "DeregisterImage", "image/ami-1"), "AWS remove or deregister"),
        (aws("iam", "RemoveRoleFromInstanceProfile", "instance-profile/web"), "AWS remove or deregister"),
        (aws("ec2", "ReleaseAddress", "eipalloc-1"), "AWS release an address or host"),
        (aws("ec2", "StopInstances", "instance/i-1"), "EC2 stop instances"),
        (aws("ec2", "CreateReplaceRootVolumeTask", "instance/i-1"), "EC2 replace a root volume"),
        (aws("ec2", "CancelSpotFleetRequests", "sfr-1"), "EC2 cancel a spot fleet"),
        (aws("rds", "StopDBCluster", "cluster/prod"), "RDS stop a database"),
        (aws("cloudformation", "UpdateStack", "stack/prod-env"), "CloudFormation stack update"),
        (aws("cloudformation", "ExecuteChangeSet", "stack/prod-env"), "CloudFormation stack update"),
        (aws("cloudformation", "UpdateStackSet", "stackset/base"), "CloudFormation stack update"),
        (aws("s3", "PutObject", "bucket/logs/key/a.txt", effects: ["overwrite"]), "S3 overwrite an object"),
        (aws("s3", "PutBucketLifecycleConfiguration", "bucket/logs", effects: ["expire-objects"]), "S3 lifecycle rule that expires objects"),
        (aws("logs", "PutRetentionPolicy", "log-group/app"), "CloudWatch Logs retention change"),
        (aws("dynamodb", "UpdateTimeToLive", "table/users"), "DynamoDB TTL change (expires items)"),
        (aws("dynamodb", "ExecuteStatement", "table/users", effects: ["partiql-delete"]), "DynamoDB PartiQL DELETE/UPDATE or batch delete"),
        (aws("dynamodb", "BatchExecuteStatement", "table/users", effects: ["partiql-update"]),
         "DynamoDB PartiQL DELETE/UPDATE or batch delete"),
        (aws("dynamodb", "BatchWriteItem", "table/users", effects: ["batch-delete"]), "DynamoDB PartiQL DELETE/UPDATE or batch delete"),
        (aws("rds", "ModifyDBInstance", "db/prod", effects: ["protection-off"]), "AWS protection turned off"),
        (aws("kms", "ScheduleKeyDeletion", "key/1"), "KMS key disabled or scheduled for deletion"),
        (aws("kms", "DisableKey", "key/1"), "KMS key disabled or scheduled for deletion"),
        (aws("kms", "PutKeyPolicy", "key/1"), "KMS key policy change"),
        (aws("iam", "PutRolePolicy", "role/ci"), "IAM policy or role change"),
        (aws("iam", "AttachUserPolicy", "user/bob"), "IAM policy or role change"),
        (aws("iam", "DetachRolePolicy", "role/ci"), "IAM policy or role change"),
        (aws("iam", "UpdateAssumeRolePolicy", "role/ci"), "IAM policy or role change"),
        (aws("iam", "UpdateRole", "role/ci"), "IAM policy or role change"),
        (aws("iam", "CreatePolicyVersion", "policy/p"), "IAM policy or role change"),
        (aws("iam", "SetDefaultPolicyVersion", "policy/p"), "IAM policy or role change"),
        (aws("iam", "CreateAccessKey", "user/bob"), "IAM credentials created"),
        (aws("route53", "ChangeResourceRecordSets", "hostedzone/Z1"), "Route 53 record change"),
        (aws("cloudtrail", "StopLogging", "trail/main"), "CloudTrail logging stopped"),
        (aws("organizations", "CloseAccount", "account/1"), "AWS account closed or leaving the organisation"),
        (APICall(provider: "kubernetes", service: "core", operation: "delete", resources: ["namespaces/prod"]), "Kubernetes delete"),
        (APICall(provider: "kubernetes", service: "core", operation: "deletecollection", resources: ["namespaces/prod/pods"]),
         "Kubernetes delete"),
        (APICall(provider: "kubernetes", service: "apps", operation: "patch", resources: ["namespaces/d/deployments/web/scale"],
                 effects: ["scale-to-zero"]), "Scale to zero"),
    ]

    @Test(arguments: held)
    func theShippedDefaultHolds(call: APICall, rule: String) throws {
        let decision = APIRuleMatcher(profile: try shippedLoader.load("default")).decide(call)
        #expect(decision?.rule.name == rule)
        #expect(decision?.action == .hold)
    }

    static let passed: [APICall] = [
        aws("cloudformation", "DescribeStacks", "stack/prod-env"),
        aws("cloudformation", "CreateChangeSet", "stack/prod-env"),
        aws("cloudformation", "CreateStack", "stack/new"),
        aws("s3", "ListBuckets", nil),
        aws("s3", "GetObject", "bucket/logs/key/a.txt"),
        aws("s3", "PutObject", "bucket/logs/key/new.txt", effects: ["write-object"]),
        aws("s3", "PutBucketLifecycleConfiguration", "bucket/logs"),
        aws("ec2", "DescribeInstances", nil),
        aws("ec2", "RebootInstances", "instance/i-1"),
        aws("ec2", "TerminateInstances", "instance/i-1", effects: ["dry-run"]),
        aws("ec2", "StopInstances", "instance/i-1", effects: ["dry-run"]),
        aws("ec2", "RevokeSecurityGroupIngress", "security-group/sg-1"),
        aws("ec2", "DisassociateAddress", "eipassoc-1"),
        aws("ec2", "DetachVolume", "volume/vol-1"),
        aws("kms", "CancelKeyDeletion", "key/1"),
        aws("dynamodb", "GetItem", "table/users"),
        aws("dynamodb", "ExecuteStatement", "table/users", effects: ["partiql-select"]),
        aws("lambda", "UpdateFunctionCode", "function/api"),
        aws("iam", "ListRoles", nil),
        aws("iam", "GetRolePolicy", "role/ci"),
        aws("sts", "GetCallerIdentity", nil),
        aws("rds", "RebootDBInstance", "db/prod"),
        aws("secretsmanager", "GetSecretValue", "secret/db"),
        APICall(provider: "kubernetes", service: "core", operation: "list", resources: ["namespaces/prod/pods"]),
        APICall(provider: "kubernetes", service: "apps", operation: "get", resources: ["namespaces/prod/deployments/web"]),
        APICall(provider: "kubernetes", service: "core", operation: "watch", resources: ["namespaces/prod/pods"]),
        APICall(provider: "kubernetes", service: "apps", operation: "patch", resources: ["namespaces/prod/deployments/web"]),
        APICall(provider: "kubernetes", service: "core", operation: "delete", resources: ["namespaces/prod"], effects: ["dry-run"]),
        APICall(provider: "kubernetes", service: "discovery", operation: "get", resources: ["version"]),
        APICall(provider: "gcp", service: "compute", operation: "start", resources: ["projects/p/zones/z/instances/vm1"]),
        APICall(provider: "azure", service: "Microsoft.Compute", operation: "restart", resources: ["subscriptions/S"]),
    ]

    @Test func aQueueConsumersAcknowledgementGoesThrough() throws {
        let matcher = APIRuleMatcher(profile: try shippedLoader.load("default"))
        for operation in ["DeleteMessage", "DeleteMessageBatch"] {
            let call = aws("sqs", operation, "queue/jobs")
            #expect(matcher.decide(call)?.action == .allow && matcher.decide(call)?.rule.name == "SQS acknowledge a message", "\(matcher.explain(call))")
        }
        // Emptying or deleting the queue stays held.
        for operation in ["PurgeQueue", "DeleteQueue"] { #expect(matcher.decide(aws("sqs", operation, "queue/jobs"))?.action == .hold) }
    }

    @Test(arguments: passed)
    func theShippedDefaultLetsThrough(call: APICall) throws {
        let matcher = APIRuleMatcher(profile: try shippedLoader.load("default"))
        #expect(matcher.decide(call) == nil, "\(matcher.explain(call))")
    }

    @Test(arguments: shippedProfileNames)
    func everyShippedProfileHoldsTheCatalogue(name: String) throws {
        let catalogue = try shippedLoader.load("default").api
        #expect(try shippedLoader.load(name).api.prefix(catalogue.count) == catalogue[...])
        // Every rule holds, but the one exception written before the deletes it carves out of.
        #expect(catalogue.filter { $0.action != .hold }.map(\.name) == ["SQS acknowledge a message"])
        #expect(catalogue.filter { $0.provider.contains("aws") && $0.action == .hold }.allSatisfy { $0.unlessEffects == ["dry-run"] })
    }
}

private func aws(_ service: String, _ operation: String, _ resource: String?, effects: [String] = []) -> APICall {
    APICall(provider: "aws", service: service, operation: operation, region: "us-east-1", resources: resource.map { [$0] } ?? [],
            effects: effects)
}

extension APICall: CustomTestStringConvertible {
    public var testDescription: String { summary + (effects.isEmpty ? "" : " [\(effects.joined(separator: ", "))]") }
}
