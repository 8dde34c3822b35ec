import AirlockPolicy

/// Reads a request to a Google Cloud REST API (`*.googleapis.com`): the API from the host, the
/// operation from the method and any custom method, the resource from the path after the version.
public enum GoogleCloudClassifier {
    /// Leading words of the custom methods that Compute, Cloud SQL and others write as a last
    /// path segment after a resource (`instances/vm1/stop`, `instanceGroupManagers/m/deleteInstances`):
    /// collections, the only other thing a POST path can end in, are nouns.
    static let methodVerbs: Set<String> = [
        "abandon", "add", "apply", "attach", "cancel", "clone", "create", "delete", "demote", "destroy", "detach",
        "disable", "enable", "export", "failover", "get", "import", "list", "move", "patch", "perform", "promote",
        "purge", "recreate", "remove", "reschedule", "reset", "resize", "restart", "restore", "resume", "rollback",
        "rotate", "send", "set", "simulate", "start", "stop", "suspend", "switch", "test", "truncate", "undelete",
        "update", "validate",
    ]

    public static func classify(_ request: APIRequest) throws(APIClassificationError) -> APICall {
        let suffix = ".googleapis.com"
        guard request.host.hasSuffix(suffix), let label = request.host.split(separator: ".").first else {
            throw APIClassificationError("Google Cloud: \(request.host) is not a googleapis.com host")
        }
        var segments = try RequestParts.segments(of: request, allowingSlash: true, provider: "Google Cloud")

        // `us-central1-aiplatform.googleapis.com`: a regional endpoint names its region first.
        var service = String(label)
        var hostRegion: String?
        let words = label.split(separator: "-")
        if words.count > 2, words[0].allSatisfy(\.isLetter), words[1].first?.isLetter == true, words[1].last?.isNumber == true {
            hostRegion = "\(words[0])-\(words[1])"
            service = words.dropFirst(2).joined(separator: "-")
        }
        // The old shared host names the API in the path: `www.googleapis.com/storage/v1/...`.
        if service == "www", let first = segments.first { service = first }

        if segments.first == "batch" {
            // One POST carrying any number of requests, deletions included, that are not read here.
            return APICall(provider: "gcp", service: service, operation: "batch", region: hostRegion,
                           resources: [segments.joined(separator: "/")])
        }
        // The path after the version (`/compute/v1/`, `/v1/`, `/upload/storage/v1/`); Cloud
        // Storage's XML API (`storage.googleapis.com/BUCKET/OBJECT`) has none.
        let xmlStorage = service == "storage" && !["storage", "upload", "download"].contains(segments.first ?? "")
        if !xmlStorage, let version = segments.prefix(3).firstIndex(where: isVersion) {
            segments.removeSubrange(...version)
        }

        let operation: String
        switch request.method {
        case "GET", "HEAD":
            // Collection ids and resource ids alternate, but for the singletons `global` and `aggregated`.
            operation = segments.filter { $0 != "global" && $0 != "aggregated" }.count % 2 == 1 ? "list" : "get"
        case "DELETE":
            operation = "delete"
        case "PUT", "PATCH":
            operation = "update"
        case "POST":
            if let last = segments.last, let colon = last.lastIndex(of: ":"), isMethodName(last[last.index(after: colon)...]) {
                operation = String(last[last.index(after: colon)...])
                segments[segments.count - 1] = String(last[..<colon])
            } else if segments.count > 1, let last = segments.last, isMethodName(last[...]),
                      methodVerbs.contains(String(last.prefix(while: \.isLowercase))) {
                operation = last
                segments.removeLast()
            } else {
                operation = "create"
            }
        default:
            throw APIClassificationError("Google Cloud: \(request.method) \(request.rawPath) is not a REST method Google's APIs serve")
        }

        let place = segments.indices.dropLast().first { ["locations", "regions", "zones"].contains(segments[$0]) }
        return APICall(provider: "gcp", service: service, operation: operation, region: place.map { segments[$0 + 1] } ?? hostRegion,
                       resources: segments.isEmpty ? [] : [segments.joined(separator: "/")])
    }

    /// `v1`, `v2`, `v1beta4`, `v2alpha1`, `v1p1beta1`.
    static func isVersion(_ segment: String) -> Bool {
        segment.count > 1 && segment.first == "v" && segment.dropFirst().first!.isNumber
            && segment.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
    }

    /// A lowerCamelCase identifier: how Google spells its methods (`stop`, `setIamPolicy`).
    private static func isMethodName(_ text: Substring) -> Bool {
        text.first.map { $0.isASCII && $0.isLowercase } == true && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
}

/// Reads a request to Azure Resource Manager: the resource provider after the last `providers/`
/// as the service, the operation from the method and any action, and the resource id.
///
/// ARM treats the words of a resource id regardless of case (`resourcegroups`, `resourceGroups`):
/// the fixed ones are written in one case here, and rules compare Azure resources, services and
/// operations regardless of case.
public enum AzureClassifier {
    public static let hosts: Set<String> = ["management.azure.com", "management.usgovcloudapi.net", "management.chinacloudapi.cn"]

    public static func classify(_ request: APIRequest) throws(APIClassificationError) -> APICall {
        guard hosts.contains(request.host) else {
            throw APIClassificationError("Azure: \(request.host) is not an Azure Resource Manager host")
        }
        let segments = try RequestParts.segments(of: request, allowingSlash: false, provider: "Azure")
        let query = RequestParts.query(of: request)
        let parameters = query.filter { $0.name.lowercased() == "api-version" }.map { (name: "api-version", value: $0.value) }
        if segments.map({ $0.lowercased() }) == ["batch"] {
            // One POST carrying any number of requests, deletions included, that are not read here.
            return APICall(provider: "azure", service: "Microsoft.Resources", operation: "batch", resources: ["batch"],
                           parameters: parameters)
        }

        // The id alternates types and names (`subscriptions/S/resourceGroups/RG`,
        // `virtualMachines/vm1`) but for `providers/NAMESPACE`, which switches the provider.
        var id: [String] = []
        var service = "Microsoft.Resources"
        var alternating = 0
        var index = 0
        while index < segments.count {
            let segment = segments[index]
            switch segment.lowercased() {
            case "providers" where index + 1 < segments.count:
                service = segments[index + 1]
                id += ["providers", service]
                alternating = 0
                index += 2
                continue
            case "subscriptions": id.append("subscriptions")
            case "resourcegroups": id.append("resourceGroups")
            case "providers": id.append("providers")
            default: id.append(segment)
            }
            alternating += 1
            index += 1
        }
        // An odd count ends in a type: a collection, or after a resource an action (`vm1/deallocate`).
        let endsInType = alternating % 2 == 1

        let operation: String
        switch request.method {
        case "GET", "HEAD": operation = endsInType ? "list" : "get"
        case "DELETE": operation = "delete"
        case "PUT": operation = "create"
        case "PATCH": operation = "update"
        case "POST":
            if endsInType, let action = id.popLast() { operation = action } else { operation = "create" }
        default:
            throw APIClassificationError("Azure: \(request.method) \(request.rawPath) is not a method Resource Manager serves")
        }

        var region = id.indices.dropLast().first { id[$0].lowercased() == "locations" }.map { id[$0 + 1] }
        var effects: [String] = []
        if request.method == "PUT" || request.method == "PATCH", let body = BodyJSON(request.body) {
            if region == nil, case .string(let location)? = body.values(at: ["location"]).first { region = location }
            // A template deployment in Complete mode deletes every resource of its scope that
            // the template does not name.
            if service.lowercased() == "microsoft.resources",
               body.values(at: ["properties", "mode"]).contains(where: { $0.isString("complete") }) {
                effects.append("complete-mode")
            }
        }
        return APICall(provider: "azure", service: service, operation: operation, region: region,
                       resources: id.isEmpty ? [] : [id.joined(separator: "/")], effects: effects, parameters: parameters)
    }
}

extension BodyJSON {
    /// A string equal to `text` regardless of case.
    func isString(_ text: String) -> Bool {
        if case .string(let value) = self { return value.lowercased() == text.lowercased() }
        return false
    }
}
