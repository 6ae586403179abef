import TCPWire

enum WireBenchmark {
    static func run() {}
}
