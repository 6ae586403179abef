// tcplab-worker: one per lab node. Joins its network namespace first thing — setns(CLONE_NEWNET)
// moves only the calling thread, so it must happen before anything starts another thread — then
// reads its configuration from the first line of stdin and runs its role.
import CLabSys
import Foundation
import LabControl
import LabWorker

#if canImport(Glibc)
import Glibc
#endif

/// Writes a message to stderr (the coordinator keeps it in `<node>.stderr`).
func fail(_ message: String) {
    FileHandle.standardError.write(Data(message.utf8))
}

let arguments = CommandLine.arguments
guard arguments.count == 3, arguments[1] == "--netns" else {
    fail("usage: tcplab-worker --netns NAME   (configuration as one JSON line on stdin)\n")
    exit(2)
}
let namespace = arguments[2]
let fd = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
guard fd >= 0, clab_setns_net(fd) == 0 else {
    fail("tcplab-worker: cannot join network namespace \(namespace): \(String(cString: strerror(errno)))\n")
    exit(3)
}
close(fd)
guard let line = readLine(strippingNewline: true),
      let config = try? JSONDecoder().decode(WorkerConfig.self, from: Data(line.utf8))
else {
    fail("tcplab-worker: the first line on stdin must be the worker configuration (JSON)\n")
    exit(2)
}
exit(Worker.run(config: config))
