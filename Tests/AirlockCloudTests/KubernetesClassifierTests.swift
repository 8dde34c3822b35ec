import AirlockCloud
import AirlockPolicy
import Foundation
import Testing

/// One request and what it must classify as.
struct KubernetesCase: CustomTestStringConvertible, Sendable {
    let method: String
    let target: String
    let body: String
    let service: String
    let operation: String
    let resource: String?
    let effects: [String]
    var testDescription: String { "\(method) \(target)" + (body.isEmpty ? "" : " \(body)") }
}

private func k8s(_ method: String, _ target: String, body: String = "", _ service: String, _ operation: String,
                 _ resource: String?, effects: [String] = []) -> KubernetesCase {
    KubernetesCase(method: method, target: target, body: body, service: service, operation: operation, resource: resource,
                   effects: effects)
}

private func kubernetesRequest(_ method: String, _ target: String, body: String = "") -> APIRequest {
    APIRequest(method: method, host: "kubernetes.default.svc", port: 6443, target: target,
               headers: [("Host", "kubernetes.default.svc"), ("Content-Type", "application/json")], body: Array(body.utf8))
}

@Suite struct KubernetesClassifierTests {
    static let cases: [KubernetesCase] = [
        // kubectl get / delete, as kubectl and the Python client send them.
        k8s("GET", "/api/v1/namespaces?limit=500", "core", "list", "namespaces"),
        k8s("GET", "/api/v1/namespaces/prod", "core", "get", "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod", "core", "delete", "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod", body: #"{"propagationPolicy":"Background"}"#, "core", "delete", "namespaces/prod"),
        k8s("GET", "/api/v1/namespaces/default/pods?limit=500", "core", "list", "namespaces/default/pods"),
        k8s("GET", "/api/v1/namespaces/default/pods/web-0", "core", "get", "namespaces/default/pods/web-0"),
        k8s("GET", "/apis/apps/v1/namespaces/default/deployments/web", "apps", "get", "namespaces/default/deployments/web"),
        k8s("DELETE", "/apis/apps/v1/namespaces/default/deployments/web?dryRun=All", "apps", "delete",
            "namespaces/default/deployments/web", effects: ["dry-run"]),
        k8s("DELETE", "/apis/apps/v1/namespaces/default/deployments/web", "apps", "delete", "namespaces/default/deployments/web"),
        k8s("DELETE", "/api/v1/namespaces/prod/persistentvolumeclaims/data", body: #"{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}"#,
            "core", "delete", "namespaces/prod/persistentvolumeclaims/data"),
        // Cluster-scoped objects, and every namespace's objects at once.
        k8s("DELETE", "/api/v1/persistentvolumes/pv-1", "core", "delete", "persistentvolumes/pv-1"),
        k8s("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", "apiextensions.k8s.io",
            "delete", "customresourcedefinitions/widgets.example.com"),
        k8s("GET", "/apis/apps/v1/deployments", "apps", "list", "deployments"),
        k8s("GET", "/api/v1/nodes/node-1", "core", "get", "nodes/node-1"),
        // Collections.
        k8s("DELETE", "/api/v1/namespaces/prod/pods", "core", "deletecollection", "namespaces/prod/pods"),
        k8s("DELETE", "/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb", "core", "deletecollection", "namespaces/prod/pods"),
        k8s("POST", "/apis/apps/v1/namespaces/prod/deployments?fieldManager=kubectl-client-side-apply", "apps", "create",
            "namespaces/prod/deployments"),
        k8s("PUT", "/apis/apps/v1/namespaces/prod/deployments/web", "apps", "update", "namespaces/prod/deployments/web"),
        // Watches: the query, any spelling Go reads as true, and the old prefix.
        k8s("GET", "/api/v1/namespaces/prod/pods?watch=true&resourceVersion=10", "core", "watch", "namespaces/prod/pods"),
        k8s("GET", "/api/v1/namespaces/prod/pods?watch=1", "core", "watch", "namespaces/prod/pods"),
        k8s("GET", "/api/v1/namespaces/prod/pods?watch=false", "core", "list", "namespaces/prod/pods"),
        k8s("GET", "/api/v1/watch/namespaces/prod/pods", "core", "watch", "namespaces/prod/pods"),
        k8s("GET", "/api/v1/namespaces/prod/pods/web-0?watch=true", "core", "get", "namespaces/prod/pods/web-0"),
        // Subresources, including the namespace's own.
        k8s("POST", "/api/v1/namespaces/prod/pods/web-0/eviction", "core", "create", "namespaces/prod/pods/web-0/eviction"),
        k8s("GET", "/api/v1/namespaces/prod/pods/web-0/exec?command=sh&stdin=true", "core", "get", "namespaces/prod/pods/web-0/exec"),
        k8s("PUT", "/api/v1/namespaces/prod/finalize", "core", "update", "namespaces/prod/finalize"),
        k8s("PATCH", "/api/v1/namespaces/prod/status", "core", "patch", "namespaces/prod/status"),
        k8s("GET", "/api/v1/namespaces/prod/services/web:80/proxy/healthz", "core", "get", "namespaces/prod/services/web:80/proxy/healthz"),
        // Scale to zero, in every shape the server takes.
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: #"{"spec":{"replicas":0}}"#, "apps", "patch",
            "namespaces/d/deployments/web/scale", effects: ["scale-to-zero"]),
        k8s("PUT", "/apis/apps/v1/namespaces/d/statefulsets/db/scale",
            body: #"{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"db"},"spec":{"replicas":0}}"#, "apps", "update",
            "namespaces/d/statefulsets/db/scale", effects: ["scale-to-zero"]),
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: #"{"spec":{"replicas":3}}"#, "apps", "patch",
            "namespaces/d/deployments/web/scale"),
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web", body: #"{"spec":{"replicas":0.0}}"#, "apps", "patch",
            "namespaces/d/deployments/web", effects: ["scale-to-zero"]),
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web", body: #"[{"op":"replace","path":"/spec/replicas","value":0}]"#,
            "apps", "patch", "namespaces/d/deployments/web", effects: ["scale-to-zero"]),
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web", body: #"[{"op":"copy","from":"/status/x","path":"/spec/replicas"}]"#,
            "apps", "patch", "namespaces/d/deployments/web", effects: ["scale-to-zero"]),
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web", body: #"[{"op":"test","path":"/spec/replicas","value":0}]"#,
            "apps", "patch", "namespaces/d/deployments/web"),
        // A later duplicate wins in Go; an earlier one in other parsers: either counts.
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: #"{"spec":{"replicas":2,"replicas":0}}"#, "apps",
            "patch", "namespaces/d/deployments/web/scale", effects: ["scale-to-zero"]),
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: #"{"spec":{"re\u0070licas":0}}"#, "apps",
            "patch", "namespaces/d/deployments/web/scale", effects: ["scale-to-zero"]),
        // Not JSON: on the scale subresource it can only be a scale, taken to be to zero.
        k8s("PUT", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: "k8s\0\u{0A}\u{0F}", "apps", "update",
            "namespaces/d/deployments/web/scale", effects: ["scale-to-zero"]),
        k8s("PUT", "/apis/apps/v1/namespaces/d/deployments/web", body: "spec:\n  replicas: 0\n", "apps", "update",
            "namespaces/d/deployments/web"),
        k8s("POST", "/apis/apps/v1/namespaces/d/deployments", body: #"{"spec":{"replicas":0}}"#, "apps", "create",
            "namespaces/d/deployments"),
        // Dry runs: only the form the server honours.
        k8s("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale?dryRun=All", body: #"{"spec":{"replicas":0}}"#, "apps",
            "patch", "namespaces/d/deployments/web/scale", effects: ["dry-run", "scale-to-zero"]),
        k8s("DELETE", "/api/v1/namespaces/prod", body: #"{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}"#, "core",
            "delete", "namespaces/prod", effects: ["dry-run"]),
        k8s("DELETE", "/api/v1/namespaces/prod", body: #"{"dry\u0052un":["All"]}"#, "core", "delete", "namespaces/prod",
            effects: ["dry-run"]),
        k8s("DELETE", "/api/v1/namespaces/prod?dry%52un=All", "core", "delete", "namespaces/prod", effects: ["dry-run"]),
        // The body's options win over the query's: this deletes.
        k8s("DELETE", "/api/v1/namespaces/prod?dryRun=All", body: #"{"kind":"DeleteOptions","apiVersion":"v1"}"#, "core", "delete",
            "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod", body: #"{"dryRun":["All"],"DryRun":[]}"#, "core", "delete", "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod", body: #"{"dryRun":[]}"#, "core", "delete", "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod?dryRun=All&dryRun=", "core", "delete", "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod?dryrun=All", "core", "delete", "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod?dryRun=all", "core", "delete", "namespaces/prod"),
        k8s("DELETE", "/api/v1/namespaces/prod?dryRun=All;x=1", "core", "delete", "namespaces/prod"),
        // Percent-decoding, once.
        k8s("GET", "/api/v1/namespaces/a%252Fb", "core", "get", "namespaces/a%2Fb"),
        k8s("GET", "/api/v1/namespaces/pr%6Fd/pods", "core", "list", "namespaces/prod/pods"),
        // Discovery.
        k8s("GET", "/version?timeout=32s", "discovery", "get", "version"),
        k8s("GET", "/api?timeout=32s", "discovery", "get", "api"),
        k8s("GET", "/apis", "discovery", "get", "apis"),
        k8s("GET", "/api/v1", "discovery", "get", "api/v1"),
        k8s("GET", "/apis/apps/v1", "discovery", "get", "apis/apps/v1"),
        k8s("GET", "/openapi/v2", "discovery", "get", "openapi/v2"),
        k8s("GET", "/openapi/v3/apis/apps/v1", "discovery", "get", "openapi/v3/apis/apps/v1"),
        k8s("HEAD", "/healthz", "discovery", "get", "healthz"),
        k8s("GET", "/readyz/etcd", "discovery", "get", "readyz/etcd"),
        k8s("GET", "/", "discovery", "get", nil),
    ]

    @Test(arguments: cases)
    func aRequestIsReadAsTheAPIServerReadsIt(c: KubernetesCase) throws {
        let call = try KubernetesClassifier.classify(kubernetesRequest(c.method, c.target, body: c.body))
        #expect(call.provider == "kubernetes")
        #expect(call.service == c.service)
        #expect(call.operation == c.operation)
        #expect(call.resources == (c.resource.map { [$0] } ?? []))
        #expect(call.effects == c.effects)
        #expect(call.region == nil)
    }

    @Test func approversSeeTheResourceAsRBACNamesItAndTheSelectors() throws {
        let scale = try KubernetesClassifier.classify(
            kubernetesRequest("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: #"{"spec":{"replicas":0}}"#))
        #expect(scale.parameters.map(\.name) == ["apiVersion", "resource", "namespace", "name"])
        #expect(scale.parameters.map(\.value) == ["apps/v1", "deployments/scale", "d", "web"])
        #expect(scale.summary == "kubernetes apps patch namespaces/d/deployments/web/scale")

        let pods = try KubernetesClassifier.classify(
            kubernetesRequest("DELETE", "/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb%2Ctier+in+%28a%29"))
        #expect(pods.parameters.map(\.name) == ["apiVersion", "resource", "namespace", "labelSelector"])
        #expect(pods.parameters.map(\.value) == ["v1", "pods", "prod", "app=web,tier in (a)"])
    }

    @Test(arguments: [
        ("GET", "/foo/bar", "/foo/bar"),
        ("GET", "/api/v1/namespaces/a%2Fb", "encoded /"),
        ("GET", "/api/v1/namespaces/a%2fb/pods", "encoded /"),
        ("DELETE", "/api/v1/namespaces/%2E%2E", "a .. segment"),
        ("DELETE", "/api/v1/namespaces/prod/pods/..", "a .. segment"),
        ("DELETE", "/api/v1/namespaces/prod/./pods", "a . segment"),
        ("GET", "//api/v1/namespaces", "an empty segment"),
        ("DELETE", "/api/v1/namespaces/prod/", "an empty segment"),
        ("DELETE", "/api/v1/namespaces/pr%zzod", "malformed %-escape"),
        ("DELETE", "/api/v1/namespaces/pr%ffod", "not UTF-8"),
        ("DELETE", "api/v1/namespaces/prod", "does not start with /"),
        ("OPTIONS", "/api/v1/namespaces/prod", "serves no OPTIONS"),
        ("delete", "/api/v1/namespaces/prod", "serves no delete"),
        ("POST", "/version", "not a request the API server serves"),
        ("DELETE", "/apis", "not a request the API server serves"),
        ("DELETE", "/api/v1/watch/namespaces/prod", "a watch path takes GET"),
        ("GET", "/api/v1/watch", "/api/v1/watch"),
        ("GET", "/api/v1/proxy/namespaces/prod/pods/a", "/proxy/"),
    ])
    func aRequestThatCannotBeReadIsRefusedSayingWhy(method: String, target: String, message: String) {
        let error = #expect(throws: APIClassificationError.self) {
            try KubernetesClassifier.classify(kubernetesRequest(method, target))
        }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("\n") == false)
    }

    @Test func theShippedDefaultHoldsDeletesAndScalesToZeroButNotReadsOrDryRuns() throws {
        let matcher = APIRuleMatcher(profile: try shippedDefault())
        func decision(_ method: String, _ target: String, body: String = "") throws -> String? {
            let call = try KubernetesClassifier.classify(kubernetesRequest(method, target, body: body))
            return matcher.decide(call).map { "\($0.action.rawValue): \($0.rule.name)" }
        }
        #expect(try decision("DELETE", "/api/v1/namespaces/prod") == "hold: Kubernetes delete")
        #expect(try decision("DELETE", "/api/v1/namespaces/prod/pods") == "hold: Kubernetes delete")
        #expect(try decision("DELETE", "/api/v1/namespaces/prod?dryRun=All", body: "{}") == "hold: Kubernetes delete")
        #expect(try decision("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: #"{"spec":{"replicas":0}}"#)
            == "hold: Scale to zero")
        #expect(try decision("DELETE", "/apis/apps/v1/namespaces/default/deployments/web?dryRun=All") == nil)
        #expect(try decision("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", body: #"{"spec":{"replicas":1}}"#) == nil)
        #expect(try decision("GET", "/api/v1/namespaces/prod/pods") == nil)
        #expect(try decision("GET", "/api/v1/namespaces/prod/pods?watch=1") == nil)
        #expect(try decision("GET", "/apis/apps/v1/namespaces/prod/deployments/web") == nil)
        #expect(try decision("POST", "/apis/apps/v1/namespaces/prod/deployments", body: #"{"spec":{"replicas":0}}"#) == nil)
        #expect(try decision("GET", "/version") == nil)
    }
}

/// The shipped `default` profile of this checkout.
func shippedDefault() throws -> Profile {
    let profiles = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("profiles").path
    return try ProfileLoader(searchPaths: [profiles]).load("default")
}
