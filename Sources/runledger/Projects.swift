import ArgumentParser
import Foundation
import LedgerCore

extension RunLedgerCommand {
    struct Projects: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Projects: named workspaces whose JSON state documents an application switches between.",
            discussion: """
                  runledger projects create solar-farm
                  runledger projects switch solar-farm        # marks it active now (and lifts an archive)
                  runledger projects list
                  runledger projects delete solar-farm        # removes its state documents too
                """,
            subcommands: [Create.self, List.self, Archive.self, Delete.self, Switch.self]
        )

        /// The four commands that change one project by name.
        struct Change: ParsableArguments {
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The project's name: letters, digits, '_', '-', '.', ':'.") var name: String

            func apply(_ change: ProjectChange, done: String) async throws {
                try await reportingErrors {
                    try await database.writing { store in try await store.changeProject(name, change) }
                    print(done)
                }
            }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a project.")
            @OptionGroup var project: Change
            func run() async throws { try await project.apply(.create, done: "Created project '\(project.name)'.") }
        }

        struct Archive: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Archive a project: its state stays readable, writes are refused until you switch to it.")
            @OptionGroup var project: Change
            func run() async throws { try await project.apply(.archive, done: "Archived project '\(project.name)'.") }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a project and all its state documents.")
            @OptionGroup var project: Change
            func run() async throws { try await project.apply(.delete, done: "Deleted project '\(project.name)' and its state documents.") }
        }

        struct Switch: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a project the active one: records the time, lifts an archive.")
            @OptionGroup var project: Change
            func run() async throws { try await project.apply(.activate, done: "Switched to project '\(project.name)'.") }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List projects, most recently active first.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "table or json (an array of {name, created_at, last_active_at, archived, documents, has_state}).") var format:
                OutputFormat = .table

            func run() async throws {
                try await reportingErrors {
                    try await database.reading { store in
                        let projects = try await store.projects()
                        if format == .json {
                            print(JSONValue.array(projects.map(\.json)))
                            return
                        }
                        var table = TextTable(headers: ["PROJECT", "LAST ACTIVE (UTC)", "CREATED (UTC)", "STATE", "ARCHIVED"], numericColumns: [3])
                        table.rows = projects.map {
                            [$0.name, formatTime($0.lastActiveAt), formatTime($0.createdAt), String($0.documentCount), $0.archived ? "yes" : ""]
                        }
                        print(table.rendered, terminator: "")
                    }
                }
            }
        }
    }

    struct State: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read and write a project's JSON state documents, with optimistic concurrency.",
            discussion: """
                Every write makes a new version. `put --expected-version V` writes only if the document is still at \
                version V (0: only if it does not exist yet) and otherwise exits 3 without changing anything, so two \
                writers never overwrite each other unnoticed.
                  runledger state put solar-farm planner --file state.json --expected-version 0
                  runledger state get solar-farm planner --format json
                  echo '{"step": 2}' | runledger state put solar-farm planner --expected-version 1
                  runledger state query solar-farm --where '$.phase == "implementation"'
                """,
            subcommands: [Get.self, Put.self, Query.self]
        )

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a state document (exit 2 when there is none).")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The project.") var project: String
            @Argument(help: "The namespace (e.g. planner, ui, agent-memory).") var namespace: String
            @Option(help: "table: the version line and the document; json: {project, namespace, version, updated_at, document}.") var format:
                OutputFormat = .table

            func run() async throws {
                try await reportingErrors {
                    try await database.reading { store in
                        guard let document = try await store.stateDocument(project: project, namespace: namespace) else {
                            throw LedgerError(
                                .resourceDoesNotExist, "Project '\(project)' has no state '\(namespace)' yet (write one with `runledger state put`).")
                        }
                        if format == .json {
                            print(document.json)
                        } else {
                            print("\(project)/\(namespace) version \(document.version), updated \(formatTime(document.updatedAt)) UTC")
                            print(document.document)
                        }
                    }
                }
            }
        }

        struct Query: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "A project's state documents that match a condition, by namespace.",
                discussion: """
                    The condition is a small JSON-path language: a path from $ by .name, ["any name"] or [index]; ==, !=, \
                    <, <=, >, >= against a string, number, true, false or null; exists(path); &&, ||, ! and parentheses. \
                    A comparison whose path is missing, or whose types differ, is false. Without --where, every document.
                      runledger state query solar-farm --where '$.phase == "implementation"'
                      runledger state query solar-farm --where 'exists($.plan.steps[0]) && $.progress.done >= 3' --format json
                    """
            )
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The project.") var project: String
            @Option(name: .customLong("where"), help: ArgumentHelp("The condition, e.g. '$.phase == \"implementation\"'.", valueName: "condition"))
            var condition: String?
            @Option(help: "table: a line per document (namespace, version, time); json: [{project, namespace, version, updated_at, document}].")
            var format: OutputFormat = .table

            func validate() throws {
                if format == .csv { throw ValidationError("Please give --format table or json.") }
                if let condition {
                    do { _ = try StatePredicate(parsing: condition) } catch { throw ValidationError(error.message) }
                }
            }

            func run() async throws {
                try await reportingErrors {
                    try await database.reading { store in
                        let documents =
                            if let condition {
                                try await store.queryState(project: project, where: try StatePredicate(parsing: condition))
                            } else {
                                try await store.stateDocuments(project: project)
                            }
                        if format == .json {
                            print(JSONValue.array(documents.map(\.json)))
                        } else {
                            var table = TextTable(headers: ["NAMESPACE", "VERSION", "UPDATED (UTC)", "DOCUMENT"], numericColumns: [1])
                            table.rows = documents.map {
                                [$0.namespace, String($0.version), formatTime($0.updatedAt), String($0.document.prefix(80))]
                            }
                            print(table.rendered, terminator: "")
                        }
                    }
                }
            }
        }

        struct Put: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a state document from a file or standard input; exit 3 on a version conflict.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The project (create it first with `runledger projects create`).") var project: String
            @Argument(help: "The namespace.") var namespace: String
            @Option(help: "The JSON document to write (default: standard input).") var file: String?
            @Option(help: "Write only if the document is at this version (0: only if it is new). Without it, the write replaces whatever is there.")
            var expectedVersion: Int64?

            func run() async throws {
                try await reportingErrors {
                    let text: String
                    if let file {
                        guard let data = FileManager.default.contents(atPath: file) else {
                            throw LedgerError(.invalidParameterValue, "Cannot read '\(file)': check the path and its permissions.")
                        }
                        text = String(decoding: data, as: UTF8.self)
                    } else {
                        text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                    }
                    try await database.writing { store in
                        do {
                            let written = try await store.putStateDocument(
                                project: project, namespace: namespace, document: text, expectedVersion: expectedVersion)
                            print("Wrote \(project)/\(namespace) version \(written.version).")
                        } catch let error as LedgerError where error.code == .conflict {
                            printError(error.message)
                            throw ExitCode(3)
                        }
                    }
                }
            }
        }
    }
}
