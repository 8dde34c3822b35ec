import AirlockCloud
import AirlockPolicy
import Testing

/// One request (an absolute URL) and what it must classify as.
struct CloudCase: CustomTestStringConvertible, Sendable {
    let method: String
    let url: String
    let body: String
    let service: String
    let operation: String
    let resource: String?
    let region: String?
    let effects: [String]
    var testDescription: String { "\(method) \(url)" }

    var request: APIRequest {
        let rest = url.dropFirst("https://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let host = String(rest[..<slash])
        return APIRequest(method: method, host: host, target: String(rest[slash...]), headers: [("Host", host)], body: Array(body.utf8))
    }
}

private func call(_ method: String, _ url: String, body: String = "", _ service: String, _ operation: String, _ resource: String?,
                  region: String? = nil, effects: [String] = []) -> CloudCase {
    CloudCase(method: method, url: url, body: body, service: service, operation: operation, resource: resource, region: region,
              effects: effects)
}

@Suite struct GoogleAzureClassifierTests {
    static let google: [CloudCase] = [
        // gcloud compute instances delete / stop / reset / suspend / create / list / describe.
        call("DELETE", "https://compute.googleapis.com/compute/v1/projects/p/zones/us-central1-a/instances/vm1", "compute", "delete",
             "projects/p/zones/us-central1-a/instances/vm1", region: "us-central1-a"),
        call("POST", "https://compute.googleapis.com/compute/v1/projects/p/zones/us-central1-a/instances/vm1/stop", "compute", "stop",
             "projects/p/zones/us-central1-a/instances/vm1", region: "us-central1-a"),
        call("POST", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances/vm1/reset", "compute", "reset",
             "projects/p/zones/z/instances/vm1", region: "z"),
        call("POST", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances/vm1/suspend?discardLocalSsd=false",
             "compute", "suspend", "projects/p/zones/z/instances/vm1", region: "z"),
        call("POST", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances", body: #"{"name":"vm2"}"#, "compute",
             "create", "projects/p/zones/z/instances", region: "z"),
        call("GET", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances?maxResults=500", "compute", "list",
             "projects/p/zones/z/instances", region: "z"),
        call("GET", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances/vm1", "compute", "get",
             "projects/p/zones/z/instances/vm1", region: "z"),
        call("GET", "https://compute.googleapis.com/compute/v1/projects/p/global/networks", "compute", "list",
             "projects/p/global/networks"),
        call("GET", "https://compute.googleapis.com/compute/v1/projects/p/global/networks/default", "compute", "get",
             "projects/p/global/networks/default"),
        call("GET", "https://compute.googleapis.com/compute/v1/projects/p/aggregated/instances", "compute", "list",
             "projects/p/aggregated/instances"),
        call("POST", "https://compute.googleapis.com/compute/v1/projects/p/regions/europe-west1/instanceGroupManagers/m/deleteInstances",
             "compute", "deleteInstances", "projects/p/regions/europe-west1/instanceGroupManagers/m", region: "europe-west1"),
        call("POST", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances/vm1/setMachineType", "compute",
             "setMachineType", "projects/p/zones/z/instances/vm1", region: "z"),
        call("PATCH", "https://compute.googleapis.com/compute/v1/projects/p/global/firewalls/allow-ssh", "compute", "update",
             "projects/p/global/firewalls/allow-ssh"),
        // Other APIs, with the version first.
        call("DELETE", "https://container.googleapis.com/v1/projects/p/locations/us-central1/clusters/prod", "container", "delete",
             "projects/p/locations/us-central1/clusters/prod", region: "us-central1"),
        call("DELETE", "https://sqladmin.googleapis.com/v1/projects/p/instances/db", "sqladmin", "delete", "projects/p/instances/db"),
        call("POST", "https://sqladmin.googleapis.com/v1/projects/p/instances/db/restart", "sqladmin", "restart", "projects/p/instances/db"),
        call("POST", "https://sqladmin.googleapis.com/sql/v1beta4/projects/p/instances/db/restoreBackup", "sqladmin", "restoreBackup",
             "projects/p/instances/db"),
        call("DELETE", "https://cloudresourcemanager.googleapis.com/v3/projects/p", "cloudresourcemanager", "delete", "projects/p"),
        call("DELETE", "https://run.googleapis.com/v2/projects/p/locations/europe-west1/services/api", "run", "delete",
             "projects/p/locations/europe-west1/services/api", region: "europe-west1"),
        call("DELETE", "https://europe-west1-run.googleapis.com/apis/serving.knative.dev/v1/namespaces/p/services/api", "run", "delete",
             "namespaces/p/services/api", region: "europe-west1"),
        call("GET", "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints", "aiplatform", "list",
             "projects/p/locations/us-central1/endpoints", region: "us-central1"),
        // Custom methods after a colon.
        call("POST", "https://run.googleapis.com/v2/projects/p/locations/l/services/s:setIamPolicy", "run", "setIamPolicy",
             "projects/p/locations/l/services/s", region: "l"),
        call("POST", "https://secretmanager.googleapis.com/v1/projects/p/secrets/s/versions/3:destroy", "secretmanager", "destroy",
             "projects/p/secrets/s/versions/3"),
        call("POST", "https://cloudtasks.googleapis.com/v2/projects/p/locations/l/queues/q:purge", "cloudtasks", "purge",
             "projects/p/locations/l/queues/q", region: "l"),
        call("POST", "https://iam.googleapis.com/v1/projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com/keys", "iam", "create",
             "projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com/keys"),
        // Cloud Storage: the JSON API (object names may hold a slash), the XML API, batches.
        call("DELETE", "https://storage.googleapis.com/storage/v1/b/logs/o/2024%2F01%2Fa.txt", "storage", "delete",
             "b/logs/o/2024/01/a.txt"),
        call("GET", "https://storage.googleapis.com/storage/v1/b/logs/o?prefix=2024", "storage", "list", "b/logs/o"),
        call("POST", "https://storage.googleapis.com/upload/storage/v1/b/logs/o?uploadType=media&name=a.txt", "storage", "create",
             "b/logs/o"),
        call("GET", "https://storage.googleapis.com/storage/v1/b/logs/o/a%3A1.txt", "storage", "get", "b/logs/o/a:1.txt"),
        call("DELETE", "https://storage.googleapis.com/logs/a.txt", "storage", "delete", "logs/a.txt"),
        call("DELETE", "https://storage.googleapis.com/v1/a.txt", "storage", "delete", "v1/a.txt"),
        call("POST", "https://storage.googleapis.com/batch/storage/v1", "storage", "batch", "batch/storage/v1"),
        call("GET", "https://www.googleapis.com/storage/v1/b?project=p", "storage", "list", "b"),
    ]

    @Test(arguments: google)
    func aGoogleCloudRequestIsReadByItsAPIMethodAndPath(c: CloudCase) throws {
        let call = try GoogleCloudClassifier.classify(c.request)
        #expect(call.provider == "gcp")
        #expect(call.service == c.service)
        #expect(call.operation == c.operation)
        #expect(call.resources == (c.resource.map { [$0] } ?? []))
        #expect(call.region == c.region)
        #expect(call.effects == c.effects)
    }

    static let azure: [CloudCase] = [
        // az vm deallocate / power off / restart / delete / create / show / list.
        call("POST", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/deallocate?api-version=2024-03-01",
             "Microsoft.Compute", "deallocate", "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
        call("POST", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/powerOff?skipShutdown=false&api-version=2024-03-01",
             "Microsoft.Compute", "powerOff", "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
        call("POST", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/restart?api-version=2024-03-01",
             "Microsoft.Compute", "restart", "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
        call("DELETE", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-03-01",
             "Microsoft.Compute", "delete", "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
        call("PUT", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm2?api-version=2024-03-01",
             body: #"{"location":"westeurope","properties":{}}"#, "Microsoft.Compute", "create",
             "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm2", region: "westeurope"),
        call("PATCH", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-03-01",
             body: #"{"tags":{}}"#, "Microsoft.Compute", "update",
             "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
        call("GET", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-03-01",
             "Microsoft.Compute", "get", "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
        call("GET", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines?api-version=2024-03-01",
             "Microsoft.Compute", "list", "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines"),
        // az group delete sends the lower-case spelling; the id is written in one case.
        call("DELETE", "https://management.azure.com/subscriptions/S/resourcegroups/rg?api-version=2022-09-01", "Microsoft.Resources",
             "delete", "subscriptions/S/resourceGroups/rg"),
        call("GET", "https://management.azure.com/subscriptions/S/resourcegroups?api-version=2022-09-01", "Microsoft.Resources", "list",
             "subscriptions/S/resourceGroups"),
        call("GET", "https://management.azure.com/subscriptions/S?api-version=2022-12-01", "Microsoft.Resources", "get", "subscriptions/S"),
        call("GET", "https://management.azure.com/subscriptions?api-version=2022-12-01", "Microsoft.Resources", "list", "subscriptions"),
        call("POST", "https://management.azure.com/subscriptions/S/resourcegroups/rg/exportTemplate?api-version=2022-09-01",
             "Microsoft.Resources", "exportTemplate", "subscriptions/S/resourceGroups/rg"),
        // Actions elsewhere, locations, extension resources, sovereign clouds.
        call("POST", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/regenerateKey?api-version=2023-01-01",
             body: #"{"keyName":"key1"}"#, "Microsoft.Storage", "regenerateKey",
             "subscriptions/S/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"),
        call("POST", "https://management.azure.com/subscriptions/S/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv/purge?api-version=2023-07-01",
             "Microsoft.KeyVault", "purge", "subscriptions/S/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv",
             region: "westeurope"),
        call("DELETE", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/providers/Microsoft.Authorization/locks/keep?api-version=2020-05-01",
             "Microsoft.Authorization", "delete",
             "subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/providers/Microsoft.Authorization/locks/keep"),
        call("POST", "https://management.usgovcloudapi.net/subscriptions/S/providers/Microsoft.Compute/register?api-version=2021-04-01",
             "Microsoft.Compute", "register", "subscriptions/S/providers/Microsoft.Compute"),
        call("GET", "https://management.chinacloudapi.cn/subscriptions/S/providers?api-version=2021-04-01", "Microsoft.Resources", "list",
             "subscriptions/S/providers"),
        // Template deployments: Complete mode deletes what the template leaves out.
        call("PUT", "https://management.azure.com/subscriptions/S/resourcegroups/rg/providers/Microsoft.Resources/deployments/d?api-version=2022-09-01",
             body: #"{"properties":{"mode":"Complete","template":{"resources":[]}}}"#, "Microsoft.Resources", "create",
             "subscriptions/S/resourceGroups/rg/providers/Microsoft.Resources/deployments/d", effects: ["complete-mode"]),
        call("PUT", "https://management.azure.com/subscriptions/S/resourcegroups/rg/providers/Microsoft.Resources/deployments/d?api-version=2022-09-01",
             body: #"{"properties":{"mode":"Incremental","mode":"complete"}}"#, "Microsoft.Resources", "create",
             "subscriptions/S/resourceGroups/rg/providers/Microsoft.Resources/deployments/d", effects: ["complete-mode"]),
        call("PUT", "https://management.azure.com/subscriptions/S/resourcegroups/rg/providers/Microsoft.Resources/deployments/d?api-version=2022-09-01",
             body: #"{"properties":{"mode":"Incremental"}}"#, "Microsoft.Resources", "create",
             "subscriptions/S/resourceGroups/rg/providers/Microsoft.Resources/deployments/d"),
        call("POST", "https://management.azure.com/batch?api-version=2020-06-01", body: #"{"requests":[]}"#, "Microsoft.Resources", "batch",
             "batch"),
    ]

    @Test(arguments: azure)
    func anAzureRequestIsReadByItsResourceIdAndAction(c: CloudCase) throws {
        let call = try AzureClassifier.classify(c.request)
        #expect(call.provider == "azure")
        #expect(call.service == c.service)
        #expect(call.operation == c.operation)
        #expect(call.resources == (c.resource.map { [$0] } ?? []))
        #expect(call.region == c.region)
        #expect(call.effects == c.effects)
    }

    @Test func approversSeeTheAzureAPIVersion() throws {
        let call = try AzureClassifier.classify(CloudCase.plain("DELETE", "https://management.azure.com/subscriptions/S/resourcegroups/rg?api-version=2022-09-01"))
        #expect(call.parameters.map(\.name) == ["api-version"])
        #expect(call.parameters.map(\.value) == ["2022-09-01"])
    }

    @Test(arguments: [
        ("GET", "https://example.com/v1/projects/p", "not a googleapis.com host"),
        ("DELETE", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances/vm1/../vm2", "a .. segment"),
        ("DELETE", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances/%2e", "a . segment"),
        ("DELETE", "https://compute.googleapis.com/compute/v1/projects/p//instances/vm1", "an empty segment"),
        ("DELETE", "https://storage.googleapis.com/storage/v1/b/logs/o/a%zz", "malformed %-escape"),
        ("OPTIONS", "https://compute.googleapis.com/compute/v1/projects/p", "not a REST method"),
    ])
    func aGoogleRequestThatCannotBeReadIsRefused(method: String, url: String, message: String) {
        let error = #expect(throws: APIClassificationError.self) { try GoogleCloudClassifier.classify(CloudCase.plain(method, url)) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test(arguments: [
        ("DELETE", "https://management.example.com/subscriptions/S", "not an Azure Resource Manager host"),
        ("DELETE", "https://management.core.windows.net/S/services/hostedservices/x", "not an Azure Resource Manager host"),
        ("DELETE", "https://management.azure.com/subscriptions/S/resourcegroups/a%2Fb", "encoded /"),
        ("DELETE", "https://management.azure.com/subscriptions/S/resourcegroups/rg/", "an empty segment"),
        ("DELETE", "https://management.azure.com/subscriptions/S/resourcegroups/%2E%2E", "a .. segment"),
        ("TRACE", "https://management.azure.com/subscriptions/S", "not a method Resource Manager serves"),
    ])
    func anAzureRequestThatCannotBeReadIsRefused(method: String, url: String, message: String) {
        let error = #expect(throws: APIClassificationError.self) { try AzureClassifier.classify(CloudCase.plain(method, url)) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test func theShippedDefaultHoldsGoogleAndAzureDestructionButNotTheRest() throws {
        let matcher = APIRuleMatcher(profile: try shippedDefault())
        func google(_ method: String, _ url: String) throws -> String? {
            matcher.decide(try GoogleCloudClassifier.classify(CloudCase.plain(method, url))).map { "\($0.action.rawValue): \($0.rule.name)" }
        }
        func azure(_ method: String, _ url: String, body: String = "") throws -> String? {
            matcher.decide(try AzureClassifier.classify(CloudCase.plain(method, url, body: body))).map { "\($0.action.rawValue): \($0.rule.name)" }
        }
        let vm = "https://compute.googleapis.com/compute/v1/projects/p/zones/us-central1-a/instances/vm1"
        #expect(try google("DELETE", vm) == "hold: Google Cloud delete")
        #expect(try google("POST", vm + "/stop") == "hold: Google Cloud stop, suspend or reset")
        #expect(try google("POST", vm + "/reset") == "hold: Google Cloud stop, suspend or reset")
        #expect(try google("POST", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instanceGroupManagers/m/deleteInstances")
            == "hold: Google Cloud delete")
        #expect(try google("POST", "https://secretmanager.googleapis.com/v1/projects/p/secrets/s/versions/3:destroy") == "hold: Google Cloud delete")
        #expect(try google("POST", "https://run.googleapis.com/v2/projects/p/locations/l/services/s:setIamPolicy")
            == "hold: Google Cloud IAM policy change")
        #expect(try google("POST", "https://iam.googleapis.com/v1/projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com/keys")
            == "hold: Google service account key created")
        #expect(try google("POST", "https://storage.googleapis.com/batch/storage/v1") == "hold: Google Cloud batch request")
        #expect(try google("GET", vm) == nil)
        #expect(try google("POST", vm + "/start") == nil)
        #expect(try google("POST", "https://sqladmin.googleapis.com/v1/projects/p/instances/db/restart") == nil)
        #expect(try google("POST", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instances") == nil)

        let machine = "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
        #expect(try azure("POST", machine + "/deallocate?api-version=2024-03-01") == "hold: Azure deallocate, power off or stop")
        #expect(try azure("POST", machine + "/poweroff?api-version=2024-03-01") == "hold: Azure deallocate, power off or stop")
        #expect(try azure("DELETE", "https://management.azure.com/subscriptions/S/resourcegroups/rg?api-version=2022-09-01")
            == "hold: Azure delete")
        #expect(try azure("POST", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/regenerateKey?api-version=2023-01-01")
            == "hold: Azure key regeneration")
        #expect(try azure("PUT", "https://management.azure.com/subscriptions/S/providers/Microsoft.Authorization/roleAssignments/1?api-version=2022-04-01")
            == "hold: Azure role, lock or policy change")
        #expect(try azure("PUT", "https://management.azure.com/subscriptions/S/resourcegroups/rg/providers/Microsoft.Resources/deployments/d?api-version=2022-09-01",
                          body: #"{"properties":{"mode":"Complete"}}"#) == "hold: Azure deployment in Complete mode")
        #expect(try azure("POST", "https://management.azure.com/batch?api-version=2020-06-01") == "hold: Azure batch request")
        #expect(try azure("POST", machine + "/restart?api-version=2024-03-01") == nil)
        #expect(try azure("GET", machine + "?api-version=2024-03-01") == nil)
        #expect(try azure("PUT", machine + "?api-version=2024-03-01", body: #"{"location":"westeurope"}"#) == nil)
        #expect(try azure("POST", "https://management.azure.com/subscriptions/S/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/listKeys?api-version=2023-01-01")
            == nil)
    }
}

extension CloudCase {
    /// A request for `url` with no expectations attached.
    static func plain(_ method: String, _ url: String, body: String = "") -> APIRequest {
        call(method, url, body: body, "", "", nil).request
    }
}
