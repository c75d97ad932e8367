// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "RunLedger",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "LedgerCore", targets: ["LedgerCore"]),
        .library(name: "LedgerSQLite", targets: ["LedgerSQLite"]),
        .library(name: "LedgerConnect", targets: ["LedgerConnect"]),
        .executable(name: "runledger", targets: ["runledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
        // Domain values, query language, store protocol, migration planning. Foundation only, no I/O.
        .target(name: "LedgerCore", swiftSettings: swiftSettings),
        // The embedded backend: GRDB on a local SQLite file, with its migration resources.
        .target(
            name: "LedgerSQLite",
            dependencies: [
                "LedgerCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/migrations")],
            swiftSettings: swiftSettings
        ),
        // The only place that turns a `--database` value into a concrete store.
        .target(
            name: "LedgerConnect",
            dependencies: ["LedgerCore", "LedgerSQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The energy-system model behind `runledger demo` and the examples: pure computation.
        .target(name: "EnergySimulation", swiftSettings: swiftSettings),
        .executableTarget(
            name: "runledger",
            dependencies: [
                "LedgerCore",
                "LedgerConnect",
                "EnergySimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "LedgerCoreTests", dependencies: ["LedgerCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LedgerStoreTests",
            dependencies: ["LedgerCore", "LedgerSQLite", "LedgerConnect", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RunLedgerCLITests",
            dependencies: ["runledger", "LedgerCore", "EnergySimulation"],
            swiftSettings: swiftSettings
        ),
    ]
)
