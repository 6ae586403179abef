import LabSim
import TCPEngine
import TCPPolicy
import TCPWire
import Testing

@Test func smokeHandshake() throws {
    let lab = TwoHosts()
    let listener = try lab.server.listen(port: 80, backlog: 128, at: lab.sim.now)
    let conn = try lab.client.connect(to: lab.serverAddress, at: lab.sim.now)
    lab.sim.run(for: .milliseconds(10))
    for line in lab.trace { print(line) }
    #expect(lab.client.state(of: conn) == .established)
    let child = try lab.server.accept(listener, at: lab.sim.now)
    #expect(child != nil)
    #expect(lab.server.state(of: child!) == .established)
}
