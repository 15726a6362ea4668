package acmelab

import (
	"fmt"
	"net"
)

// freePort returns a port on 127.0.0.1 that nothing listens on right now,
// over TCP and, when udp is set, over UDP too (a DNS server needs both).
// Another process may take it before the lab binds it; the lab notices and
// starts again on other ports.
func freePort(udp bool) (int, error) {
	var lastErr error
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if !udp {
			ln.Close()
			return port, nil
		}
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil {
			lastErr = err
			continue
		}
		pc.Close()
		return port, nil
	}
	return 0, fmt.Errorf("finding a port free over TCP and UDP: %w", lastErr)
}
