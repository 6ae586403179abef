import Testing
import TCPWire

@Suite("Addresses")
struct AddressTests {
    // MARK: MAC

    @Test func macParsesAndPrints() throws {
        let mac = try #require(MACAddress("02:00:00:00:00:01"))
        #expect(mac == MACAddress(2, 0, 0, 0, 0, 1))
        #expect(mac.rawValue == 0x0200_0000_0001)
        #expect(mac.description == "02:00:00:00:00:01")
        #expect(MACAddress("AA:bb:Cc:dD:ee:FF")?.description == "aa:bb:cc:dd:ee:ff")
        #expect(mac[0] == 2 && mac[5] == 1)
    }

    @Test(arguments: ["", "02:00:00:00:00", "02:00:00:00:00:01:02", "2:00:00:00:00:01", "02:00:00:00:00:0g",
                      "02-00-00-00-00-01", "02:00:00:00:00:", "002:00:00:00:00:01", "+2:00:00:00:00:01", "02:00:00:00::01"])
    func macRejectsMalformedText(_ text: String) {
        #expect(MACAddress(text) == nil, "\(text.debugDescription) parsed")
    }

    @Test func macBroadcastMulticastAndRawValueMask() {
        #expect(MACAddress.broadcast.description == "ff:ff:ff:ff:ff:ff")
        #expect(MACAddress.broadcast.isBroadcast && MACAddress.broadcast.isMulticast)
        #expect(MACAddress("01:00:5e:00:00:01")!.isMulticast)
        #expect(!MACAddress("02:00:00:00:00:01")!.isMulticast)
        #expect(MACAddress.zero.description == "00:00:00:00:00:00")
        #expect(MACAddress(rawValue: 0xFFFF_0200_0000_0001) == MACAddress(2, 0, 0, 0, 0, 1))
    }

    // MARK: IPv4

    @Test func ipv4ParsesAndPrints() throws {
        let address = try #require(IPv4Address("198.18.0.1"))
        #expect(address.rawValue == 0xC612_0001)
        #expect(address == IPv4Address(198, 18, 0, 1))
        #expect(address.description == "198.18.0.1")
        #expect(IPv4Address("0.0.0.0") == .any)
        #expect(IPv4Address("255.255.255.255") == .limitedBroadcast)
        #expect(IPv4Address(rawValue: 0x0A00_00FF).description == "10.0.0.255")
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-1", "1..3.4", "a.b.c.d", "1.2.3.4 ", " 1.2.3.4",
                      "1.2.3.0004", "+1.2.3.4", "1.2.3.+4", "١.٢.٣.٤"])
    func ipv4RejectsMalformedText(_ text: String) {
        #expect(IPv4Address(text) == nil, "\(text.debugDescription) parsed")
    }

    @Test func ipv4Multicast() {
        #expect(IPv4Address("224.0.0.1")!.isMulticast)
        #expect(IPv4Address("239.255.255.255")!.isMulticast)
        #expect(!IPv4Address("223.255.255.255")!.isMulticast)
        #expect(!IPv4Address("240.0.0.0")!.isMulticast)
    }

    // MARK: IPv4Interface

    @Test func interfaceParsesAndDerivesItsSubnet() throws {
        let interface = try #require(IPv4Interface("198.18.0.1/24"))
        #expect(interface.address == IPv4Address(198, 18, 0, 1))
        #expect(interface.prefixLength == 24)
        #expect(interface.netmask == 0xFFFF_FF00)
        #expect(interface.network == IPv4Address(198, 18, 0, 0))
        #expect(interface.broadcast == IPv4Address(198, 18, 0, 255))
        #expect(interface.description == "198.18.0.1/24")
    }

    @Test(arguments: [(0, UInt32(0)), (1, 0x8000_0000), (15, 0xFFFE_0000), (24, 0xFFFF_FF00), (31, 0xFFFF_FFFE), (32, 0xFFFF_FFFF)])
    func netmaskForEveryEdgePrefix(prefix: Int, mask: UInt32) {
        #expect(IPv4Interface(address: IPv4Address(198, 18, 0, 1), prefixLength: prefix).netmask == mask)
    }

    @Test func containsIsSubnetMembership() throws {
        let lab = try #require(IPv4Interface("198.18.0.1/15"))
        #expect(lab.contains(IPv4Address(198, 18, 0, 2)))
        #expect(lab.contains(IPv4Address(198, 19, 255, 255)))
        #expect(!lab.contains(IPv4Address(198, 20, 0, 0)))
        #expect(!lab.contains(IPv4Address(198, 17, 255, 255)))
        let host = IPv4Interface(address: IPv4Address(10, 0, 0, 1), prefixLength: 32)
        #expect(host.contains(IPv4Address(10, 0, 0, 1)))
        #expect(!host.contains(IPv4Address(10, 0, 0, 2)))
        let everything = IPv4Interface(address: IPv4Address(10, 0, 0, 1), prefixLength: 0)
        #expect(everything.contains(IPv4Address(203, 0, 113, 9)))
    }

    @Test(arguments: ["198.18.0.1", "198.18.0.1/", "198.18.0.1/33", "198.18.0.1/-1", "198.18.0.1/24/8",
                      "198.18.0.1//24", "/24", "198.18.0/24", "198.18.0.1/+24", "198.18.0.1/ 24"])
    func interfaceRejectsMalformedText(_ text: String) {
        #expect(IPv4Interface(text) == nil, "\(text.debugDescription) parsed")
    }

    @Test func socketAddressPrintsAddressColonPort() {
        #expect(SocketAddress(IPv4Address(198, 18, 0, 2), 8080).description == "198.18.0.2:8080")
    }

    // MARK: Hex helpers

    @Test func hexStringIsLowercaseWithoutSeparators() {
        #expect(hexString([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
        #expect(hexString([UInt8]()) == "")
    }

    @Test func bytesFromHexIgnoresWhitespaceAndCase() {
        #expect(bytes(fromHex: "00 0f\nA0\tff") == [0x00, 0x0F, 0xA0, 0xFF])
        #expect(bytes(fromHex: "") == [])
        let all = (0...255).map { UInt8($0) }
        #expect(bytes(fromHex: hexString(all)) == all)
    }

    @Test(arguments: ["0", "abc", "0g", "+1", "0x01", "é0"])
    func bytesFromHexRejectsMalformedText(_ text: String) {
        #expect(bytes(fromHex: text) == nil, "\(text.debugDescription) parsed")
    }
}
