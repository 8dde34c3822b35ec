@testable import AirlockCloud
import Foundation
import Testing

@Suite struct AWSOperationTableTests {
    let table = AWSOperationTable.botocore

    @Test func theTableHoldsEveryOperationOfEveryBotocoreModelItWasMadeFrom() {
        #expect(table.services.count == AWSOperationTable.serviceCount)
        for service in table.services {
            #expect(service.operations.count == service.declaredOperationCount, "\(service.name)")
            #expect(Set(service.operations.map(\.name)).count == service.operations.count, "\(service.name)")
            #expect(!service.protocols.isEmpty, "\(service.name)")
        }
        #expect(table.services.reduce(0) { $0 + $1.operations.count } == AWSOperationTable.operationCount)
        #expect(AWSOperationTable.operationCount > 20_000)
    }

    /// The proxy pays this on its first AWS request: the services, then the operations of the one asked.
    @Test func readingTheTableAndItsLargestServiceTakesWellUnderASecond() throws {
        let start = ContinuousClock.now
        let parsed = AWSOperationTable(parsing: AWSOperationTable.source)
        #expect(parsed.services.count == AWSOperationTable.serviceCount)
        #expect(try #require(parsed.service(named: "ec2")).operation(named: "TerminateInstances") != nil)
        #expect(ContinuousClock.now - start < .milliseconds(300))
    }

    @Test func aSigningNameFindsEveryServiceSignedForIt() {
        #expect(table.services(signingName: "s3").map(\.name) == ["s3", "s3control"])
        #expect(table.services(signingName: "rds").map(\.name) == ["docdb", "neptune", "rds"])
        #expect(table.services(signingName: "monitoring").map(\.name) == ["cloudwatch"])
        #expect(table.services(signingName: "cloudwatch").isEmpty == false)
        #expect(table.services(signingName: "no-such-service").isEmpty)
        #expect(table.services(signingName: "s3express").map(\.name) == ["s3", "s3control"])
        #expect(table.services(signingName: "s3-object-lambda").map(\.name) == ["s3"])
    }

    @Test func jsonOperationsAreFoundByTheirExactTarget() throws {
        let dynamodb = try #require(table.service(named: "dynamodb"))
        #expect(dynamodb.operation(target: "DynamoDB_20120810.DeleteTable")?.name == "DeleteTable")
        #expect(dynamodb.operation(target: "DynamoDB_20120810.deletetable") == nil)
        #expect(dynamodb.operation(target: "DynamoDBStreams_20120810.DescribeStream") == nil)
        #expect(dynamodb.operation(named: "DeleteTable")?.members.map(\.name) == ["TableName"])
        let connections = try #require(table.service(named: "codeconnections"))
        #expect(connections.operation(target: "com.amazonaws.codeconnections.CodeConnections_20231201.DeleteHost")?.name == "DeleteHost")
    }

    @Test func cborOperationsAreFoundByTheirPath() throws {
        let cloudwatch = try #require(table.service(named: "cloudwatch"))
        #expect(cloudwatch.protocols == [.cbor, .json, .query])
        #expect(cloudwatch.queryCompatible)
        #expect(cloudwatch.operation(cborPath: "/service/GraniteServiceVersion20100801/operation/DeleteAlarms")?.name == "DeleteAlarms")
        #expect(cloudwatch.operation(cborPath: "/service/Other/operation/DeleteAlarms") == nil)
        #expect(cloudwatch.operation(cborPath: "/service/GraniteServiceVersion20100801/operation/DeleteAlarms/x") == nil)
    }

    @Test func queryMembersCarryTheirWireNames() throws {
        let ec2 = try #require(table.service(named: "ec2"))
        #expect(ec2.operation(named: "TerminateInstances")?.members == [AWSMember(name: "InstanceIds", wire: "InstanceId", location: .body)])
        let route53 = try #require(table.service(named: "route53"))
        let change = try #require(route53.operation(named: "ChangeResourceRecordSets"))
        #expect(change.http?.template.description == "/2013-04-01/hostedzone/{Id}/rrset/")
        #expect(change.members == [AWSMember(name: "HostedZoneId", wire: "Id", location: .label)])
    }

    @Test func s3TemplatesCarryTheKeysAndHeadersThatTellOperationsApart() throws {
        let s3 = try #require(table.service(named: "s3"))
        #expect(s3.operation(named: "AbortMultipartUpload")?.http?.template.description == "/{Bucket}/{Key+}?uploadId")
        #expect(s3.operation(named: "CopyObject")?.http?.headers == ["x-amz-copy-source"])
        #expect(s3.operation(named: "PutObject")?.http?.headers == [])
        #expect(s3.operation(named: "PutBucketLifecycle")?.http?.primary == "PutBucketLifecycleConfiguration")
        #expect(s3.operation(named: "ListObjectsV2")?.http?.template.query.map(\.key) == ["list-type"])
    }

    @Test func greedyLabelsTakeTheLongestPathThatLetsTheRestFit() {
        let middle = AWSURITemplate("/portals/{portalArn+}/browserSettings")
        #expect(middle.match(["portals", "arn:aws:x", "portal", "p1", "browserSettings"]) == ["portalArn": "arn:aws:x/portal/p1"])
        #expect(middle.match(["portals", "browserSettings"]) == nil)
        let key = AWSURITemplate("/{Bucket}/{Key+}")
        #expect(key.match(["logs", "dir", ""]) == ["Bucket": "logs", "Key": "dir/"])
        #expect(key.match(["logs", ""]) == nil)
        #expect(AWSURITemplate("/{Bucket}").match(["logs", ""]) == ["Bucket": "logs"])
        #expect(AWSURITemplate("/2013-04-01/hostedzone/{Id}/rrset/").match(["2013-04-01", "hostedzone", "Z1", "rrset"]) != nil)
    }

    /// Every REST operation, called the way its template says, is read as itself and nothing else:
    /// the table has no two templates that fit one request equally.
    @Test func everyRESTOperationIsReadAsItselfFromItsOwnTemplate() {
        var failures: [String] = []
        for service in table.services where service.isREST {
            for operation in service.operations {
                guard let http = operation.http, http.primary == nil else { continue }
                var segments: [String] = []
                for segment in http.template.segments {
                    switch segment {
                    case .literal(let text): segments.append(text)
                    case .label: segments.append("v1")
                    case .greedy: segments += ["g1", "g2"]
                    }
                }
                var query: [String: [String]] = [:]
                for (key, value) in http.template.query { query[key] = [value ?? "q"] }
                let request = AWSRESTRequest(method: http.method, segments: segments, query: query, headerNames: Set(http.headers))
                let matches = service.matches(request)
                let best = matches.map { $0.operation.http!.specificity }.max { $0.lexicographicallyPrecedes($1) }
                let winners = matches.filter { $0.operation.http!.specificity == best }.map(\.operation.name)
                if winners != [operation.name] {
                    failures.append("\(service.name) \(operation.name) \(http.method) \(http.template): \(winners)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count): \(failures.prefix(40).joined(separator: "\n"))")
    }
}
