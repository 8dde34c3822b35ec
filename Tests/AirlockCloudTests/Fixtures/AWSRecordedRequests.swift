// Recorded by scripts/aws-record-requests with botocore 1.44.8: do not edit.
// Each request was built and signed by botocore (fake credentials) and never sent.

import Testing

struct RecordedAWSRequest: Sendable, CustomTestStringConvertible {
    var name, method, url: String
    var headers: [(String, String)]
    /// base64
    var body: String
    var service, operation, region: String
    var resources, effects: [String]
    /// The protocol botocore wrote it in.
    var `protocol`: String
    var presigned: Bool
    var testDescription: String { name }
}

let recordedAWSRequests: [RecordedAWSRequest] = [
    RecordedAWSRequest(
        name: #"cloudformation DeleteStack"#, method: #"POST"#,
        url: #"https://cloudformation.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"cloudformation.us-east-1.amazonaws.com"#), (#"Content-Type"#, #"application/x-www-form-urlencoded; charset=utf-8"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/cloudformation/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=c8f218c0f9e2de571b75875e148cdd886b1bf9494d9af12017b863b7f985b439"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000001"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"56"#)],
        body: #"QWN0aW9uPURlbGV0ZVN0YWNrJlZlcnNpb249MjAxMC0wNS0xNSZTdGFja05hbWU9cHJvZC1lbnY="#,
        service: #"cloudformation"#, operation: #"DeleteStack"#, region: #"us-east-1"#,
        resources: [#"stack/prod-env"#], effects: [],
        protocol: #"query"#, presigned: false),
    RecordedAWSRequest(
        name: #"cloudformation ListStacks"#, method: #"POST"#,
        url: #"https://cloudformation.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"cloudformation.us-east-1.amazonaws.com"#), (#"Content-Type"#, #"application/x-www-form-urlencoded; charset=utf-8"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/cloudformation/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=c7bb65625d31d434534519aa34f348ca214eb4e0a16178d68f7baa498feb1ed8"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000002"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"36"#)],
        body: #"QWN0aW9uPUxpc3RTdGFja3MmVmVyc2lvbj0yMDEwLTA1LTE1"#,
        service: #"cloudformation"#, operation: #"ListStacks"#, region: #"us-east-1"#,
        resources: [], effects: [],
        protocol: #"query"#, presigned: false),
    RecordedAWSRequest(
        name: #"ec2 TerminateInstances DryRun"#, method: #"POST"#,
        url: #"https://ec2.eu-west-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"ec2.eu-west-1.amazonaws.com"#), (#"Content-Type"#, #"application/x-www-form-urlencoded; charset=utf-8"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/eu-west-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=d631a025a31e2766e21601316b9bc732948d58ad720ae1067e092e3fa7a4b598"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000003"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"96"#)],
        body: #"QWN0aW9uPVRlcm1pbmF0ZUluc3RhbmNlcyZWZXJzaW9uPTIwMTYtMTEtMTUmSW5zdGFuY2VJZC4xPWktMGFiYyZJbnN0YW5jZUlkLjI9aS0wZGVmJkRyeVJ1bj10cnVl"#,
        service: #"ec2"#, operation: #"TerminateInstances"#, region: #"eu-west-1"#,
        resources: [#"instance/i-0abc"#, #"instance/i-0def"#], effects: [#"dry-run"#],
        protocol: #"ec2"#, presigned: false),
    RecordedAWSRequest(
        name: #"dynamodb DeleteTable"#, method: #"POST"#,
        url: #"https://dynamodb.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"dynamodb.us-east-1.amazonaws.com"#), (#"X-Amz-Target"#, #"DynamoDB_20120810.DeleteTable"#), (#"Content-Type"#, #"application/x-amz-json-1.0"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=a33bf01b597e721d58f864d17fce12e1ce0c29c87b73c59bb31d2b4baa023a36"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000004"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"23"#)],
        body: #"eyJUYWJsZU5hbWUiOiAib3JkZXJzIn0="#,
        service: #"dynamodb"#, operation: #"DeleteTable"#, region: #"us-east-1"#,
        resources: [#"table/orders"#], effects: [],
        protocol: #"json"#, presigned: false),
    RecordedAWSRequest(
        name: #"dynamodb ExecuteStatement DELETE"#, method: #"POST"#,
        url: #"https://dynamodb.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"dynamodb.us-east-1.amazonaws.com"#), (#"X-Amz-Target"#, #"DynamoDB_20120810.ExecuteStatement"#), (#"Content-Type"#, #"application/x-amz-json-1.0"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=cb16fd7b7c5750d068f5e32780bbaa0b82c42f67cf85dec989d7d5a7defc494b"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000005"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"95"#)],
        body: #"eyJTdGF0ZW1lbnQiOiAiICAtLSB0aWR5IHVwXG4gZGVsZXRlIEZST00gXCJvcmRlcnNcIiBXSEVSRSBpZCA9ID8iLCAiUGFyYW1ldGVycyI6IFt7IlMiOiAiMSJ9XX0="#,
        service: #"dynamodb"#, operation: #"ExecuteStatement"#, region: #"us-east-1"#,
        resources: [], effects: [#"partiql-delete"#],
        protocol: #"json"#, presigned: false),
    RecordedAWSRequest(
        name: #"dynamodb BatchWriteItem DeleteRequest"#, method: #"POST"#,
        url: #"https://dynamodb.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"dynamodb.us-east-1.amazonaws.com"#), (#"X-Amz-Target"#, #"DynamoDB_20120810.BatchWriteItem"#), (#"Content-Type"#, #"application/x-amz-json-1.0"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=faf10fb9ff3a3b49d01e7a8e81eb2222f072f253ad8c99dba8fe0268d9c14060"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000006"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"124"#)],
        body: #"eyJSZXF1ZXN0SXRlbXMiOiB7Im9yZGVycyI6IFt7IkRlbGV0ZVJlcXVlc3QiOiB7IktleSI6IHsiaWQiOiB7IlMiOiAiMSJ9fX19LCB7IlB1dFJlcXVlc3QiOiB7Ikl0ZW0iOiB7ImlkIjogeyJTIjogIjIifX19fV19fQ=="#,
        service: #"dynamodb"#, operation: #"BatchWriteItem"#, region: #"us-east-1"#,
        resources: [#"table/orders"#], effects: [#"batch-delete"#],
        protocol: #"json"#, presigned: false),
    RecordedAWSRequest(
        name: #"sqs DeleteQueue json"#, method: #"POST"#,
        url: #"https://sqs.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"sqs.us-east-1.amazonaws.com"#), (#"X-Amz-Target"#, #"AmazonSQS.DeleteQueue"#), (#"Content-Type"#, #"application/x-amz-json-1.0"#), (#"x-amzn-query-mode"#, #"true"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode, Signature=49034c540d19f2d9c6f0151cbab6244e27445e4d2a05fa12eec9e40eabea6810"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000007"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"69"#)],
        body: #"eyJRdWV1ZVVybCI6ICJodHRwczovL3Nxcy51cy1lYXN0LTEuYW1hem9uYXdzLmNvbS8xMjM0NTY3ODkwMTIvam9icyJ9"#,
        service: #"sqs"#, operation: #"DeleteQueue"#, region: #"us-east-1"#,
        resources: [#"queue/https://sqs.us-east-1.amazonaws.com/123456789012/jobs"#], effects: [],
        protocol: #"json"#, presigned: false),
    RecordedAWSRequest(
        name: #"sqs DeleteQueue query"#, method: #"POST"#,
        url: #"https://sqs.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"sqs.us-east-1.amazonaws.com"#), (#"Content-Type"#, #"application/x-www-form-urlencoded; charset=utf-8"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=cf51bff01955e5ba271e66a9ccba849b04fd7016754647b104c903fc09907f6d"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000008"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"110"#)],
        body: #"QWN0aW9uPURlbGV0ZVF1ZXVlJlZlcnNpb249MjAxMi0xMS0wNSZRdWV1ZVVybD1odHRwcyUzQSUyRiUyRnNxcy51cy1lYXN0LTEuYW1hem9uYXdzLmNvbSUyRjEyMzQ1Njc4OTAxMiUyRmpvYnM="#,
        service: #"sqs"#, operation: #"DeleteQueue"#, region: #"us-east-1"#,
        resources: [#"queue/https://sqs.us-east-1.amazonaws.com/123456789012/jobs"#], effects: [],
        protocol: #"query"#, presigned: false),
    RecordedAWSRequest(
        name: #"lambda DeleteFunction"#, method: #"DELETE"#,
        url: #"https://lambda.us-west-2.amazonaws.com/2015-03-31/functions/billing"#,
        headers: [(#"Host"#, #"lambda.us-west-2.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-west-2/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=5c65d1547dbb9b7819a4b701dfd64dd5efbd95dd352eaa9bc374cd42a8ba5b03"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000009"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"0"#)],
        body: #""#,
        service: #"lambda"#, operation: #"DeleteFunction"#, region: #"us-west-2"#,
        resources: [#"function/billing"#], effects: [],
        protocol: #"rest-json"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 DeleteObject virtual-hosted"#, method: #"DELETE"#,
        url: #"https://logs.s3.amazonaws.com/2026/a%20b.txt"#,
        headers: [(#"Host"#, #"logs.s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=e26d5c645ee2d05d43d3a22d58187f108ee28ffeda6437e144f396be5accfe1c"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-00000000000a"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"0"#)],
        body: #""#,
        service: #"s3"#, operation: #"DeleteObject"#, region: #"us-east-1"#,
        resources: [#"bucket/logs/key/2026/a b.txt"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 DeleteObject path-style"#, method: #"DELETE"#,
        url: #"https://s3.amazonaws.com/logs/2026/a%20b.txt"#,
        headers: [(#"Host"#, #"s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=41c61870fafaac0b78d90526b1b08892aa21772768ec5a0195945c5a3069734f"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-00000000000b"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"0"#)],
        body: #""#,
        service: #"s3"#, operation: #"DeleteObject"#, region: #"us-east-1"#,
        resources: [#"bucket/logs/key/2026/a b.txt"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 DeleteObjects virtual-hosted"#, method: #"POST"#,
        url: #"https://logs.s3.amazonaws.com/?delete"#,
        headers: [(#"Host"#, #"logs.s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"x-amz-checksum-crc32"#, #"a2zdPw=="#), (#"x-amz-sdk-checksum-algorithm"#, #"CRC32"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"0f71107bd3b036c83c275255ea34870044201d9d591f7831f099b485f2487407"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm, Signature=f1ae8270c07e0f9546cbe45d1d53ccbc1796c894b7d48f6ce20c650dd618253d"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-00000000000c"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"139"#)],
        body: #"PERlbGV0ZSB4bWxucz0iaHR0cDovL3MzLmFtYXpvbmF3cy5jb20vZG9jLzIwMDYtMDMtMDEvIj48T2JqZWN0PjxLZXk+YS50eHQ8L0tleT48L09iamVjdD48T2JqZWN0PjxLZXk+YiAmYW1wOyBjLnR4dDwvS2V5PjwvT2JqZWN0PjwvRGVsZXRlPg=="#,
        service: #"s3"#, operation: #"DeleteObjects"#, region: #"us-east-1"#,
        resources: [#"bucket/logs"#, #"bucket/logs/key/a.txt"#, #"bucket/logs/key/b & c.txt"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 DeleteObjects path-style"#, method: #"POST"#,
        url: #"https://s3.amazonaws.com/logs?delete"#,
        headers: [(#"Host"#, #"s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"x-amz-checksum-crc32"#, #"FsLG3g=="#), (#"x-amz-sdk-checksum-algorithm"#, #"CRC32"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"0180839d7477fa3ed1ff024621457b3c5e5c5fc7ae74b379bd1e087acdfc504b"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm, Signature=d3f3bb22de83f4882d8a2869863807287a9d23cd066a01ae383e19222ab7c3d6"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-00000000000d"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"98"#)],
        body: #"PERlbGV0ZSB4bWxucz0iaHR0cDovL3MzLmFtYXpvbmF3cy5jb20vZG9jLzIwMDYtMDMtMDEvIj48T2JqZWN0PjxLZXk+YS50eHQ8L0tleT48L09iamVjdD48L0RlbGV0ZT4="#,
        service: #"s3"#, operation: #"DeleteObjects"#, region: #"us-east-1"#,
        resources: [#"bucket/logs"#, #"bucket/logs/key/a.txt"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 DeleteBucket virtual-hosted"#, method: #"DELETE"#,
        url: #"https://logs.s3.amazonaws.com/"#,
        headers: [(#"Host"#, #"logs.s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=3c94ef16a5c26cad3156d9d87e12203a06c628203401fd9eedebed007ae297b6"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-00000000000e"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"0"#)],
        body: #""#,
        service: #"s3"#, operation: #"DeleteBucket"#, region: #"us-east-1"#,
        resources: [#"bucket/logs"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 DeleteBucket path-style"#, method: #"DELETE"#,
        url: #"https://s3.amazonaws.com/logs"#,
        headers: [(#"Host"#, #"s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=6908d946e2d935d235776e392b13063fe22e8dfd79690c31671f9d44ba30a205"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-00000000000f"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"0"#)],
        body: #""#,
        service: #"s3"#, operation: #"DeleteBucket"#, region: #"us-east-1"#,
        resources: [#"bucket/logs"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 GetObject virtual-hosted"#, method: #"GET"#,
        url: #"https://logs.s3.eu-central-1.amazonaws.com/a.txt"#,
        headers: [(#"Host"#, #"logs.s3.eu-central-1.amazonaws.com"#), (#"x-amz-checksum-mode"#, #"ENABLED"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/eu-central-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date, Signature=bb4a01da5f3e7c56c35c75bb853b75a6ae78b3d7de49b3a3761d537d49f52d0c"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000010"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#)],
        body: #""#,
        service: #"s3"#, operation: #"GetObject"#, region: #"eu-central-1"#,
        resources: [#"bucket/logs/key/a.txt"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 GetObject path-style"#, method: #"GET"#,
        url: #"https://s3.amazonaws.com/logs/a.txt"#,
        headers: [(#"Host"#, #"s3.amazonaws.com"#), (#"x-amz-checksum-mode"#, #"ENABLED"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date, Signature=a487c8c0beb55d8444f29fd08edd67fa89f1d6b583c3726a32b13a634dfb8029"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000011"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#)],
        body: #""#,
        service: #"s3"#, operation: #"GetObject"#, region: #"us-east-1"#,
        resources: [#"bucket/logs/key/a.txt"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 PutObject"#, method: #"PUT"#,
        url: #"https://logs.s3.amazonaws.com/a.txt"#,
        headers: [(#"Host"#, #"logs.s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"Expect"#, #"100-continue"#), (#"Transfer-Encoding"#, #"chunked"#), (#"Content-Encoding"#, #"aws-chunked"#), (#"X-Amz-Trailer"#, #"x-amz-checksum-crc32"#), (#"X-Amz-Decoded-Content-Length"#, #"5"#), (#"x-amz-sdk-checksum-algorithm"#, #"CRC32"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"STREAMING-UNSIGNED-PAYLOAD-TRAILER"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-trailer, Signature=a73f3e774158e0bb94d8f93350c654ea79f198cb94c355fe7f9b5a76d3311d42"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000012"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#)],
        body: #"NQ0KaGVsbG8NCjANCngtYW16LWNoZWNrc3VtLWNyYzMyOk5oQ21oZz09DQoNCg=="#,
        service: #"s3"#, operation: #"PutObject"#, region: #"us-east-1"#,
        resources: [#"bucket/logs/key/a.txt"#], effects: [#"write-object"#],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 PutBucketLifecycleConfiguration virtual-hosted"#, method: #"PUT"#,
        url: #"https://logs.s3.amazonaws.com/?lifecycle"#,
        headers: [(#"Host"#, #"logs.s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"x-amz-checksum-crc32"#, #"qfzV3A=="#), (#"x-amz-sdk-checksum-algorithm"#, #"CRC32"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"8c7a357432c6f4823c87cd34300bd031f391f4f08c91408a453c999cc093142d"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm, Signature=9c1ca3a4588618f6002a80c7941f6f2b1a9a715f2ff0efb5817753f580695e3e"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000013"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"233"#)],
        body: #"PExpZmVjeWNsZUNvbmZpZ3VyYXRpb24geG1sbnM9Imh0dHA6Ly9zMy5hbWF6b25hd3MuY29tL2RvYy8yMDA2LTAzLTAxLyI+PFJ1bGU+PElEPmV4cGlyZS1sb2dzPC9JRD48U3RhdHVzPkVuYWJsZWQ8L1N0YXR1cz48RmlsdGVyPjxQcmVmaXg+bG9ncy88L1ByZWZpeD48L0ZpbHRlcj48RXhwaXJhdGlvbj48RGF5cz4zMDwvRGF5cz48L0V4cGlyYXRpb24+PC9SdWxlPjwvTGlmZWN5Y2xlQ29uZmlndXJhdGlvbj4="#,
        service: #"s3"#, operation: #"PutBucketLifecycleConfiguration"#, region: #"us-east-1"#,
        resources: [#"bucket/logs"#], effects: [#"expire-objects"#],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 PutBucketLifecycleConfiguration path-style"#, method: #"PUT"#,
        url: #"https://s3.amazonaws.com/logs?lifecycle"#,
        headers: [(#"Host"#, #"s3.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"x-amz-checksum-crc32"#, #"qfzV3A=="#), (#"x-amz-sdk-checksum-algorithm"#, #"CRC32"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"X-Amz-Content-SHA256"#, #"8c7a357432c6f4823c87cd34300bd031f391f4f08c91408a453c999cc093142d"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm, Signature=5aba38991857485183090150ea95d516905176d8e003d5951b04ca3876c1b976"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000014"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"233"#)],
        body: #"PExpZmVjeWNsZUNvbmZpZ3VyYXRpb24geG1sbnM9Imh0dHA6Ly9zMy5hbWF6b25hd3MuY29tL2RvYy8yMDA2LTAzLTAxLyI+PFJ1bGU+PElEPmV4cGlyZS1sb2dzPC9JRD48U3RhdHVzPkVuYWJsZWQ8L1N0YXR1cz48RmlsdGVyPjxQcmVmaXg+bG9ncy88L1ByZWZpeD48L0ZpbHRlcj48RXhwaXJhdGlvbj48RGF5cz4zMDwvRGF5cz48L0V4cGlyYXRpb24+PC9SdWxlPjwvTGlmZWN5Y2xlQ29uZmlndXJhdGlvbj4="#,
        service: #"s3"#, operation: #"PutBucketLifecycleConfiguration"#, region: #"us-east-1"#,
        resources: [#"bucket/logs"#], effects: [#"expire-objects"#],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"s3 GetObject presigned"#, method: #"GET"#,
        url: #"https://logs.s3.amazonaws.com/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDAIRLOCKTEST%2F20261203%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261203T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=cbae97186b5e92696dd53fb3c57cb3f3e1bbd58be2b311d627ea108f98d6f67c"#,
        headers: [(#"Host"#, #"logs.s3.amazonaws.com"#)],
        body: #""#,
        service: #"s3"#, operation: #"GetObject"#, region: #"us-east-1"#,
        resources: [#"bucket/logs/key/a.txt"#], effects: [],
        protocol: #"rest-xml"#, presigned: true),
    RecordedAWSRequest(
        name: #"route53 ChangeResourceRecordSets"#, method: #"POST"#,
        url: #"https://route53.amazonaws.com/2013-04-01/hostedzone/Z0123456789/rrset/"#,
        headers: [(#"Host"#, #"route53.amazonaws.com"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/route53/aws4_request, SignedHeaders=host;x-amz-date, Signature=800887589be68b4b6e4e917ded4a4964fdef5275e4779860713769ac5dbd5e03"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000015"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"395"#)],
        body: #"PENoYW5nZVJlc291cmNlUmVjb3JkU2V0c1JlcXVlc3QgeG1sbnM9Imh0dHBzOi8vcm91dGU1My5hbWF6b25hd3MuY29tL2RvYy8yMDEzLTA0LTAxLyI+PENoYW5nZUJhdGNoPjxDaGFuZ2VzPjxDaGFuZ2U+PEFjdGlvbj5ERUxFVEU8L0FjdGlvbj48UmVzb3VyY2VSZWNvcmRTZXQ+PE5hbWU+d3d3LmV4YW1wbGUuY29tLjwvTmFtZT48VHlwZT5BPC9UeXBlPjxUVEw+MzAwPC9UVEw+PFJlc291cmNlUmVjb3Jkcz48UmVzb3VyY2VSZWNvcmQ+PFZhbHVlPjE5Mi4wLjIuMTwvVmFsdWU+PC9SZXNvdXJjZVJlY29yZD48L1Jlc291cmNlUmVjb3Jkcz48L1Jlc291cmNlUmVjb3JkU2V0PjwvQ2hhbmdlPjwvQ2hhbmdlcz48L0NoYW5nZUJhdGNoPjwvQ2hhbmdlUmVzb3VyY2VSZWNvcmRTZXRzUmVxdWVzdD4="#,
        service: #"route53"#, operation: #"ChangeResourceRecordSets"#, region: #"us-east-1"#,
        resources: [#"hosted-zone/Z0123456789"#], effects: [],
        protocol: #"rest-xml"#, presigned: false),
    RecordedAWSRequest(
        name: #"cloudwatch DeleteAlarms cbor"#, method: #"POST"#,
        url: #"https://monitoring.us-east-1.amazonaws.com/service/GraniteServiceVersion20100801/operation/DeleteAlarms"#,
        headers: [(#"Host"#, #"monitoring.us-east-1.amazonaws.com"#), (#"smithy-protocol"#, #"rpc-v2-cbor"#), (#"x-amzn-query-mode"#, #"true"#), (#"Accept"#, #"application/cbor"#), (#"Content-Type"#, #"application/cbor"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/monitoring/aws4_request, SignedHeaders=accept;content-type;host;smithy-protocol;x-amz-date;x-amzn-query-mode, Signature=71a8989bc09bcfc69e70485f596546f879794b4a27b64ba5c0f6f0859a53afd5"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000016"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"32"#)],
        body: #"oWpBbGFybU5hbWVzgmhjcHUtaGlnaGlkaXNrLWZ1bGw="#,
        service: #"cloudwatch"#, operation: #"DeleteAlarms"#, region: #"us-east-1"#,
        resources: [#"alarm/cpu-high"#, #"alarm/disk-full"#], effects: [],
        protocol: #"smithy-rpc-v2-cbor"#, presigned: false),
    RecordedAWSRequest(
        name: #"cloudwatch DeleteAlarms json"#, method: #"POST"#,
        url: #"https://monitoring.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"monitoring.us-east-1.amazonaws.com"#), (#"X-Amz-Target"#, #"GraniteServiceVersion20100801.DeleteAlarms"#), (#"Content-Type"#, #"application/x-amz-json-1.0"#), (#"x-amzn-query-mode"#, #"true"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/monitoring/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode, Signature=c9b771e05f5516681e178a3dfeb1826a0cb83d974f9cf458acdee854131dfd07"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000017"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"28"#)],
        body: #"eyJBbGFybU5hbWVzIjogWyJjcHUtaGlnaCJdfQ=="#,
        service: #"cloudwatch"#, operation: #"DeleteAlarms"#, region: #"us-east-1"#,
        resources: [#"alarm/cpu-high"#], effects: [],
        protocol: #"json"#, presigned: false),
    RecordedAWSRequest(
        name: #"cloudwatch DeleteAlarms query"#, method: #"POST"#,
        url: #"https://monitoring.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"monitoring.us-east-1.amazonaws.com"#), (#"Content-Type"#, #"application/x-www-form-urlencoded; charset=utf-8"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/monitoring/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=c05b06e40c1b04b6a67e50d21fd50ba7505be4f357acecb13f97f10a45d43f82"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000018"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"67"#)],
        body: #"QWN0aW9uPURlbGV0ZUFsYXJtcyZWZXJzaW9uPTIwMTAtMDgtMDEmQWxhcm1OYW1lcy5tZW1iZXIuMT1jcHUtaGlnaA=="#,
        service: #"cloudwatch"#, operation: #"DeleteAlarms"#, region: #"us-east-1"#,
        resources: [#"alarm/cpu-high"#], effects: [],
        protocol: #"query"#, presigned: false),
    RecordedAWSRequest(
        name: #"iam DeletePolicy"#, method: #"POST"#,
        url: #"https://iam.amazonaws.com/"#,
        headers: [(#"Host"#, #"iam.amazonaws.com"#), (#"Content-Type"#, #"application/x-www-form-urlencoded; charset=utf-8"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=7797e3807d9e981668e1c7fb49b3e39e6244ee58d6a645d84ba3070b2a410205"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-000000000019"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"97"#)],
        body: #"QWN0aW9uPURlbGV0ZVBvbGljeSZWZXJzaW9uPTIwMTAtMDUtMDgmUG9saWN5QXJuPWFybiUzQWF3cyUzQWlhbSUzQSUzQTEyMzQ1Njc4OTAxMiUzQXBvbGljeSUyRm9wcw=="#,
        service: #"iam"#, operation: #"DeletePolicy"#, region: #"us-east-1"#,
        resources: [#"policy/arn:aws:iam::123456789012:policy/ops"#], effects: [],
        protocol: #"query"#, presigned: false),
    RecordedAWSRequest(
        name: #"rds ModifyDBInstance DeletionProtection off"#, method: #"POST"#,
        url: #"https://rds.us-east-1.amazonaws.com/"#,
        headers: [(#"Host"#, #"rds.us-east-1.amazonaws.com"#), (#"Content-Type"#, #"application/x-www-form-urlencoded; charset=utf-8"#), (#"User-Agent"#, #"airlock-fixture"#), (#"X-Amz-Date"#, #"20261203T120000Z"#), (#"Authorization"#, #"AWS4-HMAC-SHA256 Credential=AKIDAIRLOCKTEST/20261203/us-east-1/rds/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=7743785fdf2bb30644c2eaa1ea63afec652424f3c77a2b2683cd42d010a7fa95"#), (#"amz-sdk-invocation-id"#, #"00000000-0000-0000-0000-00000000001a"#), (#"amz-sdk-request"#, #"attempt=1; max=2"#), (#"Content-Length"#, #"126"#)],
        body: #"QWN0aW9uPU1vZGlmeURCSW5zdGFuY2UmVmVyc2lvbj0yMDE0LTEwLTMxJkRCSW5zdGFuY2VJZGVudGlmaWVyPWRiMSZEZWxldGlvblByb3RlY3Rpb249ZmFsc2UmTWFzdGVyVXNlclBhc3N3b3JkPWh1bnRlcjJodW50ZXIy"#,
        service: #"rds"#, operation: #"ModifyDBInstance"#, region: #"us-east-1"#,
        resources: [#"db-instance/db1"#], effects: [#"protection-off"#],
        protocol: #"query"#, presigned: false),
]
