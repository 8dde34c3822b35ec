// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "airlock",
    products: [
        .executable(name: "airlock", targets: ["airlock"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // libseccomp, from Debian's libseccomp-dev.
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        // The few C helpers Swift cannot express safely: raw syscalls without glibc wrappers and
        // everything that runs between fork and exec.
        .target(name: "CAirlockShim"),
        // Profiles, rules and matchers: pure, no syscalls.
        .target(
            name: "AirlockPolicy",
            dependencies: [.product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // Namespaces, mounts, Landlock, the seccomp filter, spawning the sandbox.
        .target(
            name: "AirlockSandbox",
            dependencies: [
                "AirlockPolicy", "CAirlockShim", "CSeccomp",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The sign-off queue file, SSH signatures, approvers, quorum.
        .target(
            name: "AirlockSignOff",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // The notify loop: reads held calls, asks the policy and the queue, answers the kernel.
        .target(
            name: "AirlockSupervisor",
            dependencies: [
                "AirlockPolicy", "AirlockSignOff", "AirlockSandbox", "CAirlockShim", "CSeccomp",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Cloud API requests: classification (botocore's operation table, Kubernetes, Google Cloud,
        // Azure) and the credential broker's signing. Pure but for reading credential files.
        .target(
            name: "AirlockCloud",
            dependencies: [
                "AirlockPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The egress proxy: every connection the agent makes leaves through it (policy in AirlockPolicy).
        .target(
            name: "AirlockNetwork",
            dependencies: [
                "AirlockPolicy", "AirlockSignOff", "AirlockCloud",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `airlock serve`: the sign-off service for teams, its queue in PostgreSQL (docs/serve.md).
        .target(
            name: "AirlockService",
            dependencies: [
                "AirlockSignOff",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "airlock",
            dependencies: [
                "AirlockPolicy", "AirlockSandbox", "AirlockSignOff", "AirlockSupervisor", "AirlockNetwork", "AirlockCloud",
                "AirlockService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A small C program the end-to-end tests run inside the sandbox to try what an agent may try.
        .executableTarget(name: "airlock-probe", path: "Tests/Probe"),
        // Fuzz targets (scripts/fuzz builds airlock-fuzz with libFuzzer; built normally it replays a corpus).
        .target(
            name: "AirlockFuzz",
            dependencies: ["AirlockPolicy", "AirlockSignOff", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/Fuzz/AirlockFuzz"
        ),
        .executableTarget(name: "airlock-fuzz", dependencies: ["AirlockFuzz"], path: "Tests/Fuzz/Main"),
        .testTarget(name: "AirlockFuzzTests", dependencies: ["AirlockFuzz"], path: "Tests/Fuzz/Tests"),
        .testTarget(name: "AirlockPolicyTests", dependencies: ["AirlockPolicy"]),
        .testTarget(name: "AirlockSignOffTests", dependencies: ["AirlockSignOff"]),
        .testTarget(name: "AirlockCloudTests", dependencies: ["AirlockCloud", "AirlockPolicy"]),
        .testTarget(
            name: "AirlockNetworkTests",
            dependencies: [
                "AirlockNetwork", "AirlockPolicy", "AirlockCloud",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "AirlockSupervisorTests", dependencies: ["AirlockSupervisor", "AirlockPolicy"]),
        .testTarget(
            name: "AirlockSandboxTests",
            dependencies: ["AirlockSandbox", "AirlockPolicy", "airlock", "airlock-probe"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
