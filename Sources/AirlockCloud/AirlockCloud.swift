import AirlockPolicy

/// Cloud API requests: what each one does (the classifiers, one per provider, and botocore's
/// operation table), and the credential broker's signing (AWS SigV4 on swift-crypto).
public enum AirlockCloud {}

/// The wire protocols of AWS services, as botocore's models name them (`metadata.protocols`).
public enum AWSProtocol: String, Sendable, CaseIterable {
    case query
    case ec2
    case json
    case restJSON = "rest-json"
    case restXML = "rest-xml"
    case cbor = "smithy-rpc-v2-cbor"
}
