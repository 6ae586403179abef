import ArgumentParser

/// `tcplab`: build and run TCP handshake labs.
@main
struct TCPLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcplab",
        abstract: "A lab for the TCP three-way handshake: run an experiment, watch every segment and state change.",
        discussion: """
        Exit status: 0 the run passed, 1 an expectation failed, 2 bad input (the topology or the \
        arguments), 3 the lab itself failed.
        """,
        subcommands: [Run.self, Validate.self, Up.self, Down.self, Clean.self, Plugins.self, LadderCommand.self, Graph.self, Schema.self, Logs.self, Runs.self],
        defaultSubcommand: Run.self
    )
}
