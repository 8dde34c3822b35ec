import AirlockPolicy

/// Cloud API requests: what each one does (the classifiers, one per provider, and botocore's
/// operation table), and the credential broker's signing (AWS SigV4 on swift-crypto).
public enum AirlockCloud {}
