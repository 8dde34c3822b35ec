import AirlockCloud
import AirlockPolicy
import Foundation
import Testing

/// A SigV4-signed request as a client would send it (the signature itself is never checked here).
private func signed(_ method: String = "POST", _ target: String = "/", host: String = "cloudformation.us-east-1.amazonaws.com",
                    headers: [(String, String)] = [], body: String = "",
                    service: String = "cloudformation", region: String = "us-east-1",
                    contentType: String? = "application/x-www-form-urlencoded; charset=utf-8") -> APIRequest {
    var all: [(name: String, value: String)] = [("Host", host)]
    if let contentType, !body.isEmpty { all.append(("Content-Type", contentType)) }
    all += headers.map { (name: $0.0, value: $0.1) }
    all.append(("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261203/\(region)/\(service)/aws4_request, "
                 + "SignedHeaders=host;x-amz-date, Signature=0123"))
    return APIRequest(method: method, host: host, target: target, headers: all, body: Array(body.utf8))
}

private func dynamodb(_ target: String, _ body: String, headers: [(String, String)] = []) -> APIRequest {
    signed(host: "dynamodb.us-east-1.amazonaws.com", headers: [("X-Amz-Target", "DynamoDB_20120810.\(target)")] + headers,
           body: body, service: "dynamodb", contentType: "application/x-amz-json-1.0")
}

private func s3(_ method: String, host: String = "s3.us-east-1.amazonaws.com", _ target: String,
                headers: [(String, String)] = [], body: String = "") -> APIRequest {
    signed(method, target, host: host, headers: headers, body: body, service: "s3", contentType: nil)
}

private func classify(_ request: APIRequest) throws -> AWSClassification {
    try #require(try AWSClassifier.classify(request))
}

/// The refusal's message, or nil when the request was classified.
private func refusal(_ request: APIRequest) -> String? {
    do {
        _ = try AWSClassifier.classify(request)
        return nil
    } catch {
        return error.message
    }
}

@Suite struct AWSRecordedRequestTests {
    @Test(arguments: recordedAWSRequests)
    func botocoresRequestsAreReadAsTheOperationBotocoreMeant(_ recorded: RecordedAWSRequest) throws {
        let url = recorded.url.dropFirst("https://".count)
        let slash = url.firstIndex(of: "/") ?? url.endIndex
        let request = APIRequest(method: recorded.method, host: String(url[..<slash]).lowercased(),
                                 target: url[slash...].isEmpty ? "/" : String(url[slash...]),
                                 headers: recorded.headers.map { (name: $0.0, value: $0.1) },
                                 body: Array(try #require(Data(base64Encoded: recorded.body))))
        let result = try classify(request)
        #expect(result.call.provider == "aws")
        #expect(result.call.service == recorded.service)
        #expect(result.call.operation == recorded.operation)
        #expect(result.call.region == recorded.region)
        #expect(result.call.resources == recorded.resources)
        #expect(result.call.effects == recorded.effects)
        #expect(result.protocol.rawValue == recorded.protocol)
        #expect(result.presigned == recorded.presigned)
        #expect(result.signing.accessKeyID == "AKIDAIRLOCKTEST")
        #expect(result.signing.date == "20261203")
        #expect(!result.sigv4a)
        #expect(!result.streamingPayload)
    }

    @Test func secretParametersAreRedactedAndTheRestKept() throws {
        let recorded = try #require(recordedAWSRequests.first { $0.name.hasPrefix("rds ModifyDBInstance") })
        let request = APIRequest(method: "POST", host: "rds.us-east-1.amazonaws.com", target: "/",
                                 headers: recorded.headers.map { (name: $0.0, value: $0.1) },
                                 body: Array(Data(base64Encoded: recorded.body)!))
        let parameters = try classify(request).call.parameters
        #expect(parameters.map(\.name) == ["DBInstanceIdentifier", "DeletionProtection", "MasterUserPassword"])
        #expect(parameters.map(\.value) == ["db1", "false", "<redacted>"])
    }
}

@Suite struct AWSSignatureTests {
    @Test func aRequestWithoutAnAWSSignatureIsNotAnAWSRequest() throws {
        let unsigned = APIRequest(method: "POST", host: "sts.amazonaws.com", target: "/",
                                  headers: [("Host", "sts.amazonaws.com")], body: Array("Action=GetCallerIdentity".utf8))
        #expect(try AWSClassifier.classify(unsigned) == nil)
        let bearer = APIRequest(method: "GET", host: "example.com", target: "/", headers: [("Authorization", "Bearer abc")])
        #expect(try AWSClassifier.classify(bearer) == nil)
    }

    @Test func theServiceComesFromTheSignatureNotTheHost() throws {
        let result = try classify(signed(host: "vpce-0123.cloudformation.example.internal", body: "Action=DeleteStack&StackName=prod"))
        #expect(result.call.summary == "aws cloudformation DeleteStack stack/prod in us-east-1")
        #expect(result.signing == SigV4Scope(accessKeyID: "AKIDTEST", date: "20261203", region: "us-east-1", service: "cloudformation"))
        let elsewhere = signed(host: "sqs.us-east-1.amazonaws.com", body: "Action=DeleteStack&StackName=prod")
        #expect(try classify(elsewhere).call.service == "cloudformation")
    }

    @Test func aSignatureForAnUnknownServiceIsRefused() {
        #expect(refusal(signed(body: "Action=DeleteStack", service: "nosuchservice"))?.contains("unknown service") == true)
    }

    @Test func presignedURLsAreRefusedByTheBrokerUnlessTheProfileForwardsThemAsSigned() throws {
        let target = "/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAOTHER%2F20261203%2Feu-west-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20261203T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
        let request = APIRequest(method: "GET", host: "logs.s3.eu-west-1.amazonaws.com", target: target,
                                 headers: [("Host", "logs.s3.eu-west-1.amazonaws.com")])
        let classified = ClassifiedRequest(call: try classify(request).call, aws: try classify(request))
        var broker = CredentialBroker(aws: AWSCredentials(accessKeyID: "AKIDREAL", secretAccessKey: "real"), awsPlaceholderKeyID: "AKIAAIRLOCKXXXXXXXXX")
        do {
            _ = try broker.prepare(request, classified, now: Date())
            Issue.record("a presigned URL was signed again")
        } catch {
            #expect(error.message.contains("a presigned URL carries its signature in the query") && error.message.contains("forward_as_signed = [\"presigned\"]"), "\(error)")
        }
        broker.forwardAsSigned = [.presigned]
        #expect(try broker.prepare(request, classified, now: Date()) == request)
        broker.forwardAsSigned = [.sigv4a, .signedChunks]
        #expect(throws: APIClassificationError.self) { try broker.prepare(request, classified, now: Date()) }
    }

    @Test func presignedURLsAreMarked() throws {
        let target = "/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20261203%2Feu-west-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20261203T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
        let request = APIRequest(method: "GET", host: "logs.s3.eu-west-1.amazonaws.com", target: target,
                                 headers: [("Host", "logs.s3.eu-west-1.amazonaws.com")])
        let result = try classify(request)
        #expect(result.presigned)
        #expect(result.call.summary == "aws s3 GetObject bucket/logs/key/a.txt in eu-west-1")
        #expect(result.call.parameters.isEmpty == false)
        #expect(!result.call.parameters.contains { $0.name.hasPrefix("X-Amz-") })
    }

    @Test func aRequestSignedTwiceOrWithSigV2IsRefused() {
        var both = s3("GET", "/logs/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20261203%2Fus-east-1%2Fs3%2Faws4_request")
        #expect(refusal(both)?.contains("both") == true)
        both.headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261203/us-east-1/s3/aws4_request"))
        #expect(refusal(both)?.contains("Authorization is given 2 times") == true)
        let v2 = APIRequest(method: "GET", host: "s3.amazonaws.com", target: "/logs/a.txt",
                            headers: [("Host", "s3.amazonaws.com"), ("Authorization", "AWS AKIDTEST:c2lnbmF0dXJl")])
        #expect(refusal(v2)?.contains("SigV2") == true)
        let v2Query = APIRequest(method: "GET", host: "s3.amazonaws.com", target: "/logs/a.txt?AWSAccessKeyId=AKIDTEST&Signature=x&Expires=1",
                                 headers: [("Host", "s3.amazonaws.com")])
        #expect(refusal(v2Query)?.contains("SigV2") == true)
        let malformed = APIRequest(method: "GET", host: "s3.amazonaws.com", target: "/",
                                   headers: [("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261203/s3/aws4_request")])
        #expect(refusal(malformed)?.contains("malformed credential scope") == true)
    }

    @Test func sigv4aIsMarkedAndItsRegionSetReported() throws {
        let request = APIRequest(method: "DELETE", host: "mrap.accesspoint.s3-global.amazonaws.com", target: "/logs/a.txt",
                                 headers: [("X-Amz-Region-Set", "*"),
                                           ("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=AKIDTEST/20261203/s3/aws4_request, SignedHeaders=host, Signature=00")])
        let result = try classify(request)
        #expect(result.sigv4a)
        #expect(result.signing.service == "s3")
        #expect(result.call.region == "*")
        #expect(result.call.operation == "DeleteObject")
    }

    @Test func signedChunkedPayloadsAreMarkedButUnsignedTrailersAreNot() throws {
        let signedChunks = s3("PUT", "/logs/a.txt", headers: [("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                                                            ("Content-Encoding", "aws-chunked")])
        #expect(try classify(signedChunks).streamingPayload)
        let trailer = s3("PUT", "/logs/a.txt", headers: [("X-Amz-Content-SHA256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                                                       ("Content-Encoding", "aws-chunked")])
        let result = try classify(trailer)
        #expect(!result.streamingPayload)
        #expect(result.call.effects == ["write-object"])
    }
}

@Suite struct AWSExactnessTests {
    @Test func anActionGivenTwiceWithDifferentValuesIsRefused() throws {
        #expect(refusal(signed(body: "Action=ListStacks&Action=DeleteStack"))?.contains("different values") == true)
        #expect(refusal(signed("POST", "/?Action=ListStacks", body: "Action=DeleteStack"))?.contains("different values") == true)
        #expect(refusal(signed(body: "ACTION=ListStacks&Action=DeleteStack")) != nil)
        #expect(try classify(signed("POST", "/?Action=DeleteStack", body: "Action=DeleteStack&StackName=a")).call.operation == "DeleteStack")
        #expect(try classify(signed(body: "Action=DeleteStack&Action=DeleteStack&StackName=a")).call.operation == "DeleteStack")
    }

    @Test func aQueryOnlyServiceReadsTheBodyAsAFormWhateverItsDeclaredType() {
        let json = signed("POST", "/?Action=ListStacks", body: "Action=DeleteStack&StackName=a", contentType: "application/json")
        #expect(refusal(json)?.contains("different values") == true)
    }

    @Test func aParameterTheQueryAndTheBodyDisagreeOnIsRefused() {
        #expect(refusal(signed("POST", "/?StackName=a", body: "Action=DeleteStack&StackName=b")) != nil)
        #expect(refusal(signed(body: "Action=DeleteStack&StackName=a&stackname=b")) != nil)
    }

    @Test func formValuesArePercentAndPlusDecodedAsTheServiceDecodesThem() throws {
        #expect(try classify(signed(body: "Action=Delete%53tack&StackName=prod+env")).call.resources == ["stack/prod env"])
        #expect(try classify(signed(body: "%41ction=DeleteStack")).call.operation == "DeleteStack")
        #expect(try classify(signed("POST", "/?Action=DeleteStack&StackName=x")).call.operation == "DeleteStack")
        #expect(refusal(signed(body: "Action=Delete+Stack"))?.contains("unknown operation Delete Stack") == true)
    }

    @Test func operationNamesCompareCaseSensitively() {
        #expect(refusal(signed(body: "Action=deletestack"))?.contains("unknown operation deletestack for service cloudformation") == true)
        #expect(refusal(dynamodb("deleteTable", "{}"))?.contains("unknown operation") == true)
    }

    @Test func xAmzTargetIsReadInAnyHeaderCaseButOnlyOnce() throws {
        let lower = signed(host: "dynamodb.us-east-1.amazonaws.com", headers: [("x-amz-target", "DynamoDB_20120810.DeleteTable")],
                           body: #"{"TableName":"orders"}"#, service: "dynamodb", contentType: "application/x-amz-json-1.0")
        #expect(try classify(lower).call.summary == "aws dynamodb DeleteTable table/orders in us-east-1")
        let twice = dynamodb("DescribeTable", #"{"TableName":"orders"}"#, headers: [("x-amz-target", "DynamoDB_20120810.DeleteTable")])
        #expect(refusal(twice)?.contains("X-Amz-Target is given 2 times") == true)
    }

    @Test func aJSONBodyNamingAKeyTwiceIsRefusedHoweverTheNameIsEscapedAndWhereverItIs() throws {
        let one = dynamodb("ExecuteStatement", #"{"Statement":"SELECT * FROM orders"}"#)
        #expect(try classify(one).call.effects.isEmpty)
        for body in [#"{"Statement":"SELECT * FROM orders","Statement":"DELETE FROM orders"}"#,
                     #"{"Statement":"SELECT * FROM orders","Statem\u0065nt":"DELETE FROM orders"}"#,
                     #"{"Statement":"SELECT 1","Parameters":[{"S":"a","S":"b"}]}"#] {
            #expect(refusal(dynamodb("ExecuteStatement", body))?.contains("not a JSON object with each key once") == true, "\(body)")
        }
        #expect(refusal(dynamodb("ExecuteStatement", #"{"Statement":"SELECT 1""#))?.contains("not a JSON object") == true)
    }

    @Test func anXAmzTargetOfAnotherServiceIsRefused() {
        let other = signed(host: "dynamodb.us-east-1.amazonaws.com", headers: [("X-Amz-Target", "AmazonSQS.DeleteQueue")],
                           body: "{}", service: "dynamodb", contentType: "application/x-amz-json-1.0")
        #expect(refusal(other)?.contains("is not an operation of service dynamodb") == true)
        #expect(refusal(s3("DELETE", "/logs", headers: [("X-Amz-Target", "DynamoDB_20120810.DeleteTable")])) != nil)
    }

    @Test func aRequestThatNamesTwoOperationsInTwoProtocolsIsRefused() {
        let sqs = signed("POST", "/?Action=DeleteQueue", host: "sqs.us-east-1.amazonaws.com", headers: [("X-Amz-Target", "AmazonSQS.ListQueues")],
                         body: "{}", service: "sqs", contentType: "application/x-amz-json-1.0")
        #expect(refusal(sqs)?.contains("more than one operation") == true)
        let form = signed(host: "sqs.us-east-1.amazonaws.com", headers: [("X-Amz-Target", "AmazonSQS.ListQueues")],
                          body: "Action=DeleteQueue&QueueUrl=q", service: "sqs")
        #expect(refusal(form)?.contains("more than one operation") == true)
        let cbor = signed("POST", "/service/GraniteServiceVersion20100801/operation/DeleteAlarms", host: "monitoring.us-east-1.amazonaws.com",
                          headers: [("X-Amz-Target", "GraniteServiceVersion20100801.DescribeAlarms")], body: "{}",
                          service: "monitoring", contentType: "application/x-amz-json-1.0")
        #expect(refusal(cbor)?.contains("more than one operation") == true)
    }

    @Test func queryCompatibleServicesTakeTheQueryProtocolToo() throws {
        let result = try classify(signed(host: "sqs.us-east-1.amazonaws.com", body: "Action=DeleteQueue&QueueUrl=https%3A%2F%2Fq", service: "sqs"))
        #expect(result.protocol == .query)
        #expect(result.call.summary == "aws sqs DeleteQueue queue/https://q in us-east-1")
        #expect(refusal(signed(host: "dynamodb.us-east-1.amazonaws.com", body: "Action=DeleteTable", service: "dynamodb"))?
            .contains("no operation") == true)
    }

    @Test func aSignedRequestThatNamesNoOperationIsRefused() {
        #expect(refusal(signed(body: "StackName=prod"))?.contains("no operation of service cloudformation") == true)
        let lambda = signed("DELETE", "/2015-03-31/nothing/here", host: "lambda.us-east-1.amazonaws.com", service: "lambda")
        #expect(refusal(lambda)?.contains("no operation") == true)
    }

    @Test func aFormBodyThatCannotBeReadIsRefused() {
        let gzip = signed(headers: [("Content-Encoding", "gzip")], body: "\u{1f}\u{8b}binary")
        #expect(refusal(gzip)?.contains("content-encoded") == true)
        let json = dynamodb("UpdateTable", #"{"TableName":"t"}"#, headers: [("Content-Encoding", "gzip")])
        #expect(refusal(json)?.contains("cannot read it") == true)
    }

    @Test func aJSONBodyThatNamesAKeyTwiceIsRefused() {
        let twice = dynamodb("UpdateTable", #"{"TableName":"t","DeletionProtectionEnabled":false,"DeletionProtectionEnabled":true}"#)
        #expect(refusal(twice)?.contains("each key once") == true)
        let escaped = dynamodb("DeleteTable", #"{"TableName":"a","Table\u004eame":"b"}"#)
        #expect(refusal(escaped) != nil)
        #expect(refusal(dynamodb("DeleteTable", "not json"))?.contains("not a JSON object") == true)
    }

    @Test func servicesSharingASigningNameAreToldApartByVersionHostOrName() throws {
        let elbv2 = signed(host: "elasticloadbalancing.us-east-1.amazonaws.com", body: "Action=DeleteLoadBalancer&Version=2015-12-01&LoadBalancerArn=arn",
                           service: "elasticloadbalancing")
        #expect(try classify(elbv2).call.service == "elbv2")
        let unversioned = signed(host: "elasticloadbalancing.us-east-1.amazonaws.com", body: "Action=DeleteLoadBalancer&LoadBalancerName=a",
                                 service: "elasticloadbalancing")
        #expect(refusal(unversioned)?.contains("more than one operation equally") == true)
        let rds = signed(host: "rds.us-east-1.amazonaws.com", body: "Action=ModifyDBCluster&Version=2014-10-31&DBClusterIdentifier=c1&DeletionProtection=false",
                         service: "rds")
        let result = try classify(rds)
        #expect(result.call.service == "rds")
        #expect(result.call.resources == ["db-cluster/c1"])
        #expect(result.call.effects == ["protection-off"])
        let control = s3("DELETE", host: "123456789012.s3-control.us-east-1.amazonaws.com", "/v20180820/bucket/logs",
                         headers: [("x-amz-account-id", "123456789012")])
        #expect(try classify(control).call.summary == "aws s3control DeleteBucket bucket/logs in us-east-1")
        let plain = s3("DELETE", "/v20180820/bucket/logs")
        #expect(try classify(plain).call.summary == "aws s3 DeleteObject bucket/v20180820/key/bucket/logs in us-east-1")
    }
}

@Suite struct AWSRESTTests {
    @Test func s3ReadsTheOperationFromMethodPathQueryKeysAndHeaders() throws {
        #expect(try classify(s3("DELETE", "/logs/a.txt")).call.operation == "DeleteObject")
        #expect(try classify(s3("DELETE", "/logs/a.txt?uploadId=u1")).call.summary
            == "aws s3 AbortMultipartUpload bucket/logs/key/a.txt, upload/u1 in us-east-1")
        #expect(try classify(s3("DELETE", "/logs/a.txt?tagging")).call.operation == "DeleteObjectTagging")
        #expect(try classify(s3("DELETE", "/logs/a.txt?x-id=DeleteObject")).call.operation == "DeleteObject")
        let copy = try classify(s3("PUT", "/logs/b.txt", headers: [("x-amz-copy-source", "/logs/a.txt")]))
        #expect(copy.call.operation == "CopyObject")
        #expect(copy.call.effects == ["write-object"])
        #expect(try classify(s3("GET", "/")).call.operation == "ListBuckets")
        #expect(try classify(s3("GET", "/logs?list-type=2")).call.operation == "ListObjectsV2")
        #expect(try classify(s3("GET", "/logs/")).call.summary == "aws s3 ListObjects bucket/logs in us-east-1")
        #expect(try classify(s3("PUT", "/logs?lifecycle", body: "<LifecycleConfiguration/>")).call.effects == [])
        #expect(refusal(s3("PUT", "/logs?lifecycle&tagging"))?.contains("more than one operation equally") == true)
    }

    @Test func s3VirtualHostedStyleTakesTheBucketFromTheHost() throws {
        #expect(try classify(s3("GET", host: "logs.s3.amazonaws.com", "/")).call.summary == "aws s3 ListObjects bucket/logs in us-east-1")
        #expect(try classify(s3("DELETE", host: "my.logs.s3.us-east-1.amazonaws.com", "/")).call.summary
            == "aws s3 DeleteBucket bucket/my.logs in us-east-1")
        #expect(try classify(s3("DELETE", host: "logs.s3.dualstack.us-east-1.amazonaws.com", "/dir/")).call.summary
            == "aws s3 DeleteObject bucket/logs/key/dir/ in us-east-1")
        #expect(try classify(s3("DELETE", host: "logs.s3-accelerate.amazonaws.com", "/a%2Fb")).call.resources == ["bucket/logs/key/a/b"])
        #expect(try classify(s3("DELETE", host: "s3.backup.s3.amazonaws.com", "/k")).call.summary
            == "aws s3 DeleteObject bucket/s3.backup/key/k in us-east-1")
        #expect(try classify(s3("DELETE", host: "logs.vpce-0a1b.s3.us-east-1.vpce.amazonaws.com", "/k")).call.resources
            == ["bucket/logs/key/k"])
        #expect(try classify(s3("DELETE", host: "vpce-0a1b.s3.us-east-1.vpce.amazonaws.com", "/logs")).call.operation == "DeleteBucket")
        #expect(try classify(s3("DELETE", host: "s3-control.s3.amazonaws.com", "/v20180820/bucket/x")).call.summary
            == "aws s3 DeleteObject bucket/s3-control/key/v20180820/bucket/x in us-east-1")
    }

    @Test func aPathThatReadsAsAnotherOperationOnceDecodedIsRefused() {
        let lambda = signed("DELETE", "/2015-03-31/functions/f%2Faliases%2Flive", host: "lambda.us-east-1.amazonaws.com", service: "lambda")
        #expect(refusal(lambda)?.contains("decoded, another operation") == true)
        let dots = signed("DELETE", "/2015-03-31/functions/..", host: "lambda.us-east-1.amazonaws.com", service: "lambda")
        #expect(refusal(dots)?.contains(". or ..") == true)
    }

    @Test func deleteObjectsNamesEveryKeyItDeletes() throws {
        let body = #"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><!-- <Key>not</Key> -->"#
            + #"<Object><Key>a&amp;b.txt</Key></Object><Object><Key><![CDATA[c<d.txt]]></Key><VersionId>v</VersionId></Object></Delete>"#
        #expect(try classify(s3("POST", "/logs?delete", body: body)).call.resources
            == ["bucket/logs", "bucket/logs/key/a&b.txt", "bucket/logs/key/c<d.txt"])
        let dtd = #"<!DOCTYPE d [<!ENTITY e "<Key>x</Key>">]><Delete>&e;</Delete>"#
        #expect(refusal(s3("POST", "/logs?delete", body: dtd))?.contains("DTD") == true)
    }

    @Test func lifecycleRulesThatExpireObjectsAreNamed() throws {
        let noncurrent = "<LifecycleConfiguration><Rule><s3:NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
            + "</s3:NoncurrentVersionExpiration></Rule></LifecycleConfiguration>"
        #expect(try classify(s3("PUT", "/logs?lifecycle", body: noncurrent)).call.effects == ["expire-objects"])
        let transition = "<LifecycleConfiguration><Rule><Transition><Days>30</Days></Transition></Rule></LifecycleConfiguration>"
        #expect(try classify(s3("PUT", "/logs?lifecycle", body: transition)).call.effects == [])
        let chunked = s3("PUT", "/logs?lifecycle", headers: [("Content-Encoding", "aws-chunked")], body: "5\r\n<Life")
        #expect(refusal(chunked)?.contains("cannot read it") == true)
    }
}

@Suite struct AWSEffectTests {
    @Test(arguments: [
        ("DELETE FROM orders", ["partiql-delete"]),
        ("  /* tidy */ -- up\n update orders SET a=1", ["partiql-update"]),
        ("SELECT * FROM orders", []),
        ("INSERT INTO orders VALUE {'id': 1}", []),
    ])
    func partiqlStatementsThatDeleteOrUpdateAreNamed(_ statement: String, _ effects: [String]) throws {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["Statement": statement]), as: UTF8.self)
        #expect(try classify(dynamodb("ExecuteStatement", body)).call.effects == effects)
    }

    @Test func batchAndTransactionStatementsAreReadEach() throws {
        let batch = #"{"Statements":[{"Statement":"SELECT 1"},{"Statement":"delete from t"}]}"#
        #expect(try classify(dynamodb("BatchExecuteStatement", batch)).call.effects == ["partiql-delete"])
        let transaction = #"{"TransactStatements":[{"Statement":"UPDATE t SET a=1"},{"Statement":"DELETE FROM t"}]}"#
        #expect(try classify(dynamodb("ExecuteTransaction", transaction)).call.effects == ["partiql-update", "partiql-delete"])
        let puts = #"{"RequestItems":{"b":[{"PutRequest":{"Item":{}}}],"a":[{"PutRequest":{"Item":{}}}]}}"#
        let result = try classify(dynamodb("BatchWriteItem", puts))
        #expect(result.call.effects == [])
        #expect(result.call.resources == ["table/a", "table/b"])
    }

    @Test func turningDeletionProtectionOffIsNamed() throws {
        #expect(try classify(dynamodb("UpdateTable", #"{"TableName":"t","DeletionProtectionEnabled":false}"#)).call.effects == ["protection-off"])
        #expect(try classify(dynamodb("UpdateTable", #"{"TableName":"t","DeletionProtectionEnabled":true}"#)).call.effects == [])
        let ec2 = { (body: String) in
            signed(host: "ec2.us-east-1.amazonaws.com", body: "Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=i-1&" + body, service: "ec2")
        }
        #expect(try classify(ec2("DisableApiTermination.Value=false")).call.effects == ["protection-off"])
        #expect(try classify(ec2("Attribute=disableApiTermination&Value=False")).call.effects == ["protection-off"])
        #expect(try classify(ec2("DisableApiTermination.Value=true")).call.effects == [])
        #expect(try classify(ec2("DisableApiTermination.Value=false&DryRun=true")).call.effects == ["protection-off", "dry-run"])
        #expect(try classify(ec2("")).call.resources == ["instance/i-1"])
    }

    @Test func cborBodiesAreReadLikeJSON() throws {
        // {"AlarmNames": ["a"], "Password": "p"} as CBOR, keys once; and the same map naming AlarmNames twice.
        let body: [UInt8] = [0xa2, 0x6a] + Array("AlarmNames".utf8) + [0x81, 0x61, 0x61, 0x68] + Array("Password".utf8) + [0x61, 0x70]
        var request = signed("POST", "/service/GraniteServiceVersion20100801/operation/DeleteAlarms", host: "monitoring.us-east-1.amazonaws.com",
                             service: "monitoring", contentType: nil)
        request.headers.append(("Content-Type", "application/cbor"))
        request.body = body
        let result = try classify(request)
        #expect(result.protocol == .cbor)
        #expect(result.call.resources == ["alarm/a"])
        #expect(result.call.parameters.map(\.value) == ["[\"a\"]", "<redacted>"])
        request.body = [0xa2, 0x6a] + Array("AlarmNames".utf8) + [0x81, 0x61, 0x61, 0x6a] + Array("AlarmNames".utf8) + [0x80]
        #expect(refusal(request)?.contains("each key once") == true)
        request.body = [0xa1, 0x6a] + Array("AlarmNames".utf8) + [0x9f, 0x61, 0x62, 0xff]
        #expect(try classify(request).call.resources == ["alarm/b"])
    }
}
