print("tcplab")
