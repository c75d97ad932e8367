import LedgerCore

/// A JSON Schema, as small as the API needs; `document` renders it for OpenAPI 3.1.
indirect enum Schema: Sendable {
    case string
    case integer
    case number
    case boolean
    /// A metric value: a number, or "NaN", "Infinity", "-Infinity".
    case metricValue
    /// An int64 in a request: a number or a decimal string, as MLflow's protobuf parser accepts.
    case int64
    case enumeration([String])
    /// A string that matches a regular expression.
    case pattern(String)
    case array(Schema)
    case object([(String, Schema)], required: [String] = [])
    case reference(String)
    /// The schema, or JSON null.
    case nullable(Schema)
    /// Any JSON value (the empty schema).
    case any

    var json: JSONValue {
        switch self {
        case .string: .object([("type", .string("string"))])
        case .integer: .object([("type", .string("integer")), ("format", .string("int64"))])
        case .number: .object([("type", .string("number"))])
        case .boolean: .object([("type", .string("boolean"))])
        case .metricValue:
            .object([
                (
                    "oneOf",
                    .array([
                        .object([("type", .string("number"))]),
                        .object([("type", .string("string")), ("enum", .array(["NaN", "Infinity", "-Infinity"].map(JSONValue.string)))]),
                    ])
                )
            ])
        case .int64:
            .object([
                (
                    "oneOf",
                    .array([.object([("type", .string("integer"))]), .object([("type", .string("string")), ("pattern", .string("^-?[0-9]+$"))])])
                )
            ])
        case .enumeration(let values): .object([("type", .string("string")), ("enum", .array(values.map(JSONValue.string)))])
        case .pattern(let expression): .object([("type", .string("string")), ("pattern", .string(expression))])
        case .array(let items): .object([("type", .string("array")), ("items", items.json)])
        case .nullable(let schema): .object([("oneOf", .array([schema.json, .object([("type", .string("null"))])]))])
        case .object(let properties, let required):
            .object(
                [("type", .string("object")), ("properties", .object(properties.map { ($0.0, $0.1.json) }))]
                    + (required.isEmpty ? [] : [("required", .array(required.map(JSONValue.string)))])
            )
        case .reference(let name): .object([("$ref", .string("#/components/schemas/\(name)"))])
        case .any: .object([])
        }
    }
}

/// One documented request field: in the JSON body of a POST, in the query string of a GET.
struct Parameter: Sendable {
    let name: String
    let schema: Schema
    let required: Bool

    init(_ name: String, _ schema: Schema, required: Bool = false) {
        self.name = name
        self.schema = schema
        self.required = required
    }
}

/// The OpenAPI 3.1 document of every route, built from the same route table the router serves, so it cannot drift.
enum OpenAPIDocument {
    static let components: [(String, Schema)] = [
        ("KeyValue", .object([("key", .string), ("value", .string)], required: ["key", "value"])),
        (
            "GroupStatistics",
            .object(
                [
                    ("group", .nullable(.string)), ("count", .integer), ("mean", .metricValue), ("stddev", .metricValue), ("min", .metricValue),
                    ("max", .metricValue), ("p50", .metricValue), ("p90", .metricValue), ("p99", .metricValue),
                ],
                required: ["group", "count", "mean", "stddev", "min", "max", "p50", "p90", "p99"]
            )
        ),
        (
            "Metric",
            .object(
                [("key", .string), ("value", .metricValue), ("timestamp", .integer), ("step", .integer)],
                required: ["key", "value", "timestamp", "step"])
        ),
        (
            "Experiment",
            .object(
                [
                    ("experiment_id", .string), ("name", .string), ("artifact_location", .string),
                    ("lifecycle_stage", .enumeration(["active", "deleted"])),
                    ("last_update_time", .integer), ("creation_time", .integer), ("tags", .array(.reference("KeyValue"))),
                ],
                required: ["experiment_id", "name", "artifact_location", "lifecycle_stage", "last_update_time", "creation_time", "tags"]
            )
        ),
        (
            "RunInfo",
            .object(
                [
                    ("run_id", .string), ("run_uuid", .string), ("run_name", .string), ("experiment_id", .string), ("user_id", .string),
                    ("status", .enumeration(RunStatus.allCases.map(\.rawValue))), ("start_time", .integer), ("end_time", .integer),
                    ("artifact_uri", .string), ("lifecycle_stage", .enumeration(["active", "deleted"])),
                ],
                required: ["run_id", "run_uuid", "run_name", "experiment_id", "user_id", "status", "start_time", "artifact_uri", "lifecycle_stage"]
            )
        ),
        (
            "Run",
            .object(
                [
                    ("info", .reference("RunInfo")),
                    (
                        "data",
                        .object(
                            [
                                ("metrics", .array(.reference("Metric"))), ("params", .array(.reference("KeyValue"))),
                                ("tags", .array(.reference("KeyValue"))),
                            ],
                            required: ["metrics", "params", "tags"]
                        )
                    ),
                    ("inputs", .object([])),
                ],
                required: ["info", "data"]
            )
        ),
        (
            "Error",
            .object(
                [("error_code", .string), ("message", .string), ("column", .integer), ("runledger_code", .string)],
                required: ["error_code", "message"])
        ),
    ]

    static func document(mlflow: [MLflowRoutes.Route]) -> JSONValue {
        var paths: [(String, [(String, JSONValue)])] = []
        func add(_ path: String, _ method: String, _ operation: JSONValue) {
            if let index = paths.firstIndex(where: { $0.0 == path }) {
                paths[index].1.append((method, operation))
            } else {
                paths.append((path, [(method, operation)]))
            }
        }
        for route in mlflow {
            for prefix in route.prefixes {
                let method = route.method.rawValue.lowercased()
                var operation: [(String, JSONValue)] = [
                    ("operationId", .string(operationID(prefix: prefix, route: route))),
                    ("summary", .string(route.summary)),
                    ("tags", .array([.string(prefix.hasPrefix("/ajax") ? "MLflow (ajax)" : prefix.contains("runledger") ? "RunLedger" : "MLflow")])),
                ]
                let inPath = Set(route.pathParameters)
                let pathParameters = route.request.filter { inPath.contains($0.name) }.map { parameter in
                    JSONValue.object([
                        ("name", .string(parameter.name)), ("in", .string("path")), ("required", .bool(true)), ("schema", parameter.schema.json),
                    ])
                }
                let request = route.request.filter { !inPath.contains($0.name) }
                if route.writes == false && route.method == .get {
                    operation.append(("parameters", .array(pathParameters + request.map(queryParameter))))
                } else {
                    if !pathParameters.isEmpty { operation.append(("parameters", .array(pathParameters))) }
                    let body = Schema.object(request.map { ($0.name, $0.schema) }, required: request.filter(\.required).map(\.name))
                    operation.append(
                        (
                            "requestBody",
                            .object([("required", .bool(false)), ("content", .object([("application/json", .object([("schema", body.json)]))]))])
                        ))
                }
                operation.append(("responses", route.fileTypes.isEmpty ? responses(route.response) : fileResponses(route.fileTypes)))
                let path = route.path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
                add(prefix + path, method, .object(operation))
            }
        }
        let state = Schema.object(
            [("project", .string), ("namespace", .string), ("version", .integer), ("updated_at", .integer), ("document", .any)],
            required: ["project", "namespace", "version", "updated_at", "document"]
        )
        if case .object(let operations) = StateRoutes.openAPI(document: state.json, error: Schema.reference("Error").json) {
            for (method, operation) in operations { add(StateRoutes.path, method, operation) }
        }
        let ready = Schema.object([("status", .string), ("error_code", .string), ("message", .string)], required: ["status"])
        add(
            "/health", "get",
            operation("health", "Whether the process lives (no authentication).", responses(.object([("status", .string)], required: ["status"]))))
        add(
            "/ready", "get",
            operation(
                "ready", "Whether the database answers and its schema is current; 503 with the reason otherwise.",
                responses(ready, extra: [("503", jsonContent(ready, "Not ready"))])))
        add(
            "/metrics", "get",
            operation(
                "metrics", "Prometheus text exposition.",
                .object([
                    (
                        "200",
                        .object([
                            ("description", .string("Metrics")), ("content", .object([("text/plain", .object([("schema", Schema.string.json)]))])),
                        ])
                    ), ("default", jsonContent(.reference("Error"), "An error")),
                ])))
        add("/openapi.json", "get", operation("openapi", "This document.", responses(.object([]))))
        add(
            "/", "get",
            operation(
                "dashboard", "The Results Explorer web dashboard (HTML; also at /experiments/…).",
                .object([
                    (
                        "200",
                        .object([
                            ("description", .string("The page")), ("content", .object([("text/html", .object([("schema", Schema.string.json)]))])),
                        ])
                    )
                ])))
        return .object([
            ("openapi", .string("3.1.0")),
            (
                "info",
                .object([
                    ("title", .string("RunLedger")), ("version", .string("0.1.0")),
                    ("description", .string("MLflow's tracking REST API 2.0 and RunLedger's operations routes. Errors are {error_code, message}.")),
                ])
            ),
            ("paths", .object(paths.map { ($0.0, .object($0.1)) })),
            (
                "components",
                .object([
                    ("schemas", .object(components.map { ($0.0, $0.1.json) })),
                    ("securitySchemes", .object([("bearer", .object([("type", .string("http")), ("scheme", .string("bearer"))]))])),
                ])
            ),
        ])
    }

    private static func operation(_ id: String, _ summary: String, _ responses: JSONValue) -> JSONValue {
        .object([("operationId", .string(id)), ("summary", .string(summary)), ("tags", .array([.string("Operations")])), ("responses", responses)])
    }

    private static func operationID(prefix: String, route: MLflowRoutes.Route) -> String {
        let name = route.path.split(whereSeparator: { $0 == "/" || $0 == "-" || $0 == ":" || $0 == "_" }).map {
            $0.prefix(1).uppercased() + $0.dropFirst()
        }.joined()
        let method = route.method == .post ? "" : route.method.rawValue.prefix(1) + route.method.rawValue.dropFirst().lowercased()
        return (prefix.hasPrefix("/ajax") ? "ajax" : prefix.contains("runledger") ? "runledger" : "mlflow") + name + method
    }

    private static func queryParameter(_ parameter: Parameter) -> JSONValue {
        .object([
            ("name", .string(parameter.name)), ("in", .string("query")), ("required", .bool(parameter.required)), ("schema", parameter.schema.json),
        ])
    }

    private static func jsonContent(_ schema: Schema, _ description: String) -> JSONValue {
        .object([("description", .string(description)), ("content", .object([("application/json", .object([("schema", schema.json)]))]))])
    }

    private static func fileResponses(_ types: [String]) -> JSONValue {
        let content = JSONValue.object(
            types.map { ($0, .object([("schema", .object([("type", .string("string")), ("contentMediaType", .string($0))]))])) })
        return .object([
            ("200", .object([("description", .string("The file")), ("content", content)])),
            ("default", jsonContent(.reference("Error"), "An error: {error_code, message}")),
        ])
    }

    private static func responses(_ schema: Schema, extra: [(String, JSONValue)] = []) -> JSONValue {
        .object(
            [("200", jsonContent(schema, "Success"))] + extra + [("default", jsonContent(.reference("Error"), "An error: {error_code, message}"))])
    }
}
