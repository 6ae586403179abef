import Foundation
import LabControl
import TCPEngine

/// The JSON Schema of topology files (`Topologies/schema.json`), built from the same tables the
/// loader uses, so that editors know every sysctl and socket option the engine knows.
/// `tcplab schema > Topologies/schema.json` writes it; a test keeps the committed file in step.
public enum TopologySchema {
    public static func json() -> Data {
        let data = (try? JSONSerialization.data(withJSONObject: schema, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return data + Data("\n".utf8)
    }

    static var schema: [String: Any] {
        let duration: [String: Any] = [
            "description": "A duration: 10ms, 1.5s, 70 s, 2min, 500us (a bare number is seconds).",
            "oneOf": [["type": "number", "minimum": 0],
                      ["type": "string",
                       "pattern": "^\\s*[0-9_]+(\\.[0-9]+)?\\s*(s|sec|secs|second|seconds|ms|msec|millisecond|milliseconds|us|µs|usec|microsecond|microseconds|ns|nanosecond|nanoseconds|m|min|mins|minute|minutes)?\\s*$"]],
        ]
        let cidr: [String: Any] = ["type": "string", "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
                                   "description": "An IPv4 address with its prefix, e.g. 198.18.0.1/24."]
        let flags: [String: Any] = ["type": "string", "pattern": "^[SFRPUEW.]+$",
                                    "description": "TCP flags as tcpdump prints them: S, S., ., P., F., R, R."]
        let port: [String: Any] = ["type": "integer", "minimum": 1, "maximum": 65535]
        let ref = { (name: String) -> [String: Any] in ["$ref": "#/definitions/\(name)"] }
        let policy: [String: Any] = [
            "description": "A built-in policy name (linux), a plugin name, or { plugin: <name>, <parameter>: <value> }. `tcplab plugins` lists them.",
            "oneOf": [["type": "string"],
                      ["type": "object", "required": ["plugin"], "properties": ["plugin": ["type": "string"]],
                       "additionalProperties": ["type": ["string", "number", "boolean"]]]],
        ]
        let sysctl: [String: Any] = ["type": "object", "propertyNames": ["enum": Sysctls.names], "additionalProperties": ["type": "integer"],
                                     "description": "net.ipv4 / net.core settings by their Linux names."]
        let sockopts: [String: Any] = ["type": "object", "propertyNames": ["enum": Topology.socketOptionNames],
                                       "additionalProperties": ["type": "integer"]]
        let impair: [String: Any] = [
            "type": "object", "additionalProperties": false, "required": ["from"],
            "description": "Impairments of the frames that come from one neighbour (netem's vocabulary).",
            "properties": [
                "from": ["type": "string", "description": "The neighbour (a node name) or interface the frames arrive from."],
                "loss": ["type": "number", "minimum": 0, "maximum": 1], "delay": ref("duration"), "jitter": ref("duration"),
                "duplicate": ["type": "number", "minimum": 0, "maximum": 1], "reorder": ["type": "number", "minimum": 0, "maximum": 1],
                "reorder-delay": ref("duration"), "corrupt": ["type": "number", "minimum": 0, "maximum": 1],
                "rate": ["type": "integer", "minimum": 1, "description": "Bits per second."],
            ] as [String: Any],
        ]
        let rule: [String: Any] = [
            "type": "object", "additionalProperties": false, "required": ["from", "action"],
            "description": "A targeted rule: drop or delay the frames from one neighbour that match (the nth ones, or all).",
            "properties": [
                "from": ["type": "string"],
                "match": ["type": "object", "additionalProperties": false,
                          "properties": ["flags": flags, "len": ["type": "integer", "minimum": 0], "sport": port, "dport": port,
                                         "arp": ["type": "boolean"]] as [String: Any]] as [String: Any],
                "nth": ["oneOf": [["type": "integer", "minimum": 1], ["type": "array", "items": ["type": "integer", "minimum": 1]]],
                        "description": "Which matches (1 is the first); omit for every match."] as [String: Any],
                "action": ["enum": ["drop", "delay"]], "delay": ref("duration"),
                "name": ["type": "string", "description": "How reports name the rule."],
            ] as [String: Any],
        ]
        let iface: [String: Any] = ["oneOf": [
            ["type": "null"], cidr,
            ["type": "object", "additionalProperties": false,
             "properties": ["address": cidr, "mac": ["type": "string", "pattern": "^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$"],
                            "mtu": ["type": "integer", "minimum": 576, "maximum": 9000]] as [String: Any]] as [String: Any],
        ]]
        let node: [String: Any] = [
            "type": "object", "additionalProperties": false, "required": ["role"],
            "properties": [
                "role": ["enum": NodeRole.allCases.map(\.rawValue),
                         "description": "client/server: TCPLab's engine; middlebox: an L2 bump applying rules per direction; kernel-*: the namespace's own Linux stack."] as [String: Any],
                "address": cidr,
                "interfaces": ["type": "object", "propertyNames": ["maxLength": 15, "pattern": "^[A-Za-z0-9._-]+$"] as [String: Any],
                               "additionalProperties": iface] as [String: Any],
                "mac": ["type": "string"], "gateway": ["type": "string"], "sysctl": sysctl,
                "socket-options": sockopts.merging(["description": "Set on every socket the node opens, right after listen/connect."]) { $1 },
                "policies": ["type": "object", "additionalProperties": false,
                             "properties": ["isn": policy, "accept-queue": policy, "delayed-ack": policy]] as [String: Any],
                "impair": ["type": "array", "items": ref("impair")], "rules": ["type": "array", "items": ref("rule")],
                "cpus": ["type": "array", "items": ["type": "integer", "minimum": 0] as [String: Any],
                         "description": "CPUs the node's worker may run on (netns backend)."] as [String: Any],
                "low-latency": ["type": "boolean",
                                "description": "Keep idle CPUs polling while the worker runs (a 0 µs CPU latency request): fast wake-ups, more CPU burned (netns backend)."] as [String: Any],
            ] as [String: Any],
        ]
        let none: [String: Any] = ["type": ["null", "boolean"]]
        let endpoint: [String: Any] = ["type": "string", "pattern": "^[^:]+:[0-9]+$"]
        let step: [String: Any] = [
            "type": "object", "additionalProperties": false,
            "description": "One thing at one time: exactly one of \(Topology.operations.joined(separator: ", ")).",
            "properties": [
                "at": ref("duration"), "after": ref("duration"), "node": ["type": "string"],
                "as": ["type": "string", "description": "Save the socket it makes under this name."],
                "socket": ["type": "string", "description": "The socket it works on (default: the node's latest)."],
                "may-fail": ["type": "boolean"],
                "listen": ["oneOf": [port, ["type": "object", "additionalProperties": false, "required": ["port"],
                                            "properties": ["port": port, "backlog": ["type": "integer", "minimum": -1],
                                                           "address": ["type": "string"]] as [String: Any]] as [String: Any]]],
                "connect": ["oneOf": [endpoint, ["type": "object", "additionalProperties": false, "required": ["to"],
                                                 "properties": ["to": endpoint, "local-port": port]] as [String: Any]]],
                "accept": none, "recv": none, "close": none, "counters": none, "state": none, "stop": none,
                "send": ["type": "string"], "shutdown": ["enum": ["read", "write", "both"]],
                "setsockopt": sockopts, "sysctl": sysctl, "wait": ref("duration"),
            ] as [String: Any],
            "oneOf": Topology.operations.map { ["required": [$0]] },
        ]
        var body: [String: Any] = [
            "description": ["type": "string"],
            "seed": ["type": "integer", "minimum": 0],
            "duration": ref("duration"),
            "allow-addresses": ["type": "array", "items": cidr, "description": "Ranges allowed besides 198.18.0.0/15."],
            "nodes": ["type": "object", "propertyNames": ["maxLength": 32, "pattern": "^[A-Za-z0-9_-]+$"] as [String: Any],
                      "additionalProperties": ref("node")],
            "links": ["type": "array", "description": "Veth pairs: [node:interface, node:interface].",
                      "items": ["type": "array", "minItems": 2, "maxItems": 2,
                                "items": ["type": "string", "pattern": "^[A-Za-z0-9_-]+(:[A-Za-z0-9._-]{1,15})?$"]] as [String: Any]],
            "steps": ["type": "array", "items": ref("step")],
            "expect": ["type": "array", "items": ["type": "string"],
                       "description": "Expectations in TCPLab's grammar (docs/topologies.md), e.g. 'server sends \"S.\" 6 times at 0, 1, 3, 7, 15, 31 s'."],
        ]
        var overlayBody = body
        overlayBody["nodes"] = ["type": "object", "additionalProperties": ["type": "object"]]
        let overlay: [String: Any] = ["type": "object", "additionalProperties": false, "properties": overlayBody,
                                      "description": "What changes on this backend: merged key by key into the file (lists replaced)."]
        body["name"] = ["type": "string"]
        body["backends"] = ["type": "array", "items": ["enum": Backend.allCases.map(\.rawValue)],
                            "description": "The backends it runs on (default both)."]
        body["netns"] = overlay
        body["sim"] = overlay
        return [
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "TCPLab topology",
            "description": "A TCPLab experiment: nodes, links, a timeline of steps and expectations. See docs/topologies.md. `tcplab validate FILE` checks what a schema cannot (links, subnets, sockets, plugins, contradictions).",
            "type": "object", "additionalProperties": false, "required": ["name", "nodes", "links"],
            "properties": body,
            "definitions": ["duration": duration, "node": node, "step": step, "impair": impair, "rule": rule],
        ]
    }
}
