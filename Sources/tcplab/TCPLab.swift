import ArgumentParser

/// `tcplab`: build and run TCP handshake labs.
@main
struct TCPLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcplab",
        abstract: "A lab for the TCP three-way handshake: run an experiment, watch every segment and state change.",
        subcommands: [Run.self, Clean.self],
        defaultSubcommand: Run.self
    )
}
