import Foundation
import Hummingbird
import LedgerCore

/// A project's state documents as HTTP resources: `GET` and `PUT /api/2.0/runledger/projects/{project}/state/{namespace}`.
///
/// The version travels as an entity tag: `GET` answers `ETag: "3"`; `PUT` with `If-Match: "3"` writes only if the
/// document is still at version 3 (else 409 RESOURCE_CONFLICT), `If-None-Match: *` only if it does not exist yet, and
/// neither writes whatever is there. Bodies are JSON: `PUT {"document": …}`; both answer
/// `{project, namespace, version, updated_at, document}`.
struct StateRoutes: Sendable {
    static let path = "/api/2.0/runledger/projects/{project}/state/{namespace}"
    let store: any TrackingStore
    let bodyLimits: BodyLimits

    func register<Context: RequestContext>(reading: RouterGroup<Context>, writing: RouterGroup<Context>) {
        let route = RouterPath("/api/2.0/runledger/projects/:project/state/:namespace")
        reading.get(route) { _, context -> Response in
            let (project, namespace) = try names(context)
            guard let document = try await store.stateDocument(project: project, namespace: namespace) else {
                throw APIError(.notFound, "RESOURCE_DOES_NOT_EXIST", "Project '\(project)' has no state '\(namespace)' yet: PUT one to create it.")
            }
            return reply(document)
        }
        writing.put(route) { request, context -> Response in
            let (project, namespace) = try names(context)
            let fields = try await RequestFields.read(request, limits: bodyLimits)
            guard let document = fields.value("document") else { throw APIError.missing("document") }
            let written = try await store.putStateDocument(
                project: project, namespace: namespace, document: document.description, expectedVersion: try Self.expectedVersion(request.headers)
            )
            return reply(written)
        }
    }

    private func names<Context: RequestContext>(_ context: Context) throws -> (String, String) {
        (try context.parameters.require("project"), try context.parameters.require("namespace"))
    }

    private func reply(_ document: StateDocument) -> Response {
        var response = Response.json(document.json)
        response.headers[.eTag] = "\"\(document.version)\""
        return response
    }

    /// The expected version from `If-Match: "N"` (or `N`) or `If-None-Match: *` (0: must not exist); nil when neither.
    static func expectedVersion(_ headers: HTTPFields) throws -> Int64? {
        if let match = headers[.ifMatch] {
            let tag = match.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "W/", with: "").trimmingCharacters(
                in: CharacterSet(charactersIn: "\""))
            guard let version = Int64(tag), version >= 1 else {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER_VALUE",
                    "Invalid If-Match '\(match.prefix(60))': send the ETag of the version you read, such as \"3\"."
                )
            }
            return version
        }
        if let noneMatch = headers[.ifNoneMatch] {
            guard noneMatch.trimmingCharacters(in: .whitespaces) == "*" else {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER_VALUE", "If-None-Match takes only '*' here (create the document only if it does not exist).")
            }
            return 0
        }
        return nil
    }

    /// The two operations, for `/openapi.json`.
    static func openAPI(document schema: JSONValue, error: JSONValue) -> JSONValue {
        func parameter(_ name: String, _ location: String, required: Bool, _ schema: JSONValue, _ description: String) -> JSONValue {
            .object([
                ("name", .string(name)), ("in", .string(location)), ("required", .bool(required)), ("description", .string(description)),
                ("schema", schema),
            ])
        }
        let name = JSONValue.object([("type", .string("string")), ("pattern", .string("^[A-Za-z0-9_.:-]{1,250}$"))])
        let pathParameters: [JSONValue] = [
            parameter("project", "path", required: true, name, "The project's name."),
            parameter("namespace", "path", required: true, name, "The document's namespace."),
        ]
        let success = JSONValue.object([
            ("description", .string("The document; ETag carries its version")),
            ("headers", .object([("ETag", .object([("schema", .object([("type", .string("string"))]))]))])),
            ("content", .object([("application/json", .object([("schema", schema)]))])),
        ])
        let failure = JSONValue.object([
            ("description", .string("An error (409 RESOURCE_CONFLICT for a stale If-Match)")),
            ("content", .object([("application/json", .object([("schema", error)]))])),
        ])
        let tag = JSONValue.object([("type", .string("string"))])
        return .object([
            (
                "get",
                .object([
                    ("operationId", .string("runledgerProjectStateGet")), ("summary", .string("A project's state document in a namespace.")),
                    ("tags", .array([.string("RunLedger")])), ("parameters", .array(pathParameters)),
                    ("responses", .object([("200", success), ("default", failure)])),
                ])
            ),
            (
                "put",
                .object([
                    ("operationId", .string("runledgerProjectStatePut")),
                    ("summary", .string("Write a state document: with If-Match \"N\" only if it is at version N, with If-None-Match * only if new.")),
                    ("tags", .array([.string("RunLedger")])),
                    (
                        "parameters",
                        .array(
                            pathParameters + [
                                parameter("If-Match", "header", required: false, tag, "The ETag (version) the write is based on."),
                                parameter("If-None-Match", "header", required: false, tag, "'*': create only."),
                            ])
                    ),
                    (
                        "requestBody",
                        .object([
                            ("required", .bool(true)),
                            (
                                "content",
                                .object([
                                    (
                                        "application/json",
                                        .object([
                                            (
                                                "schema",
                                                .object([
                                                    ("type", .string("object")), ("properties", .object([("document", .object([]))])),
                                                    ("required", .array([.string("document")])),
                                                ])
                                            )
                                        ])
                                    )
                                ])
                            ),
                        ])
                    ),
                    ("responses", .object([("200", success), ("default", failure)])),
                ])
            ),
        ])
    }
}
