package broker

import (
	"fmt"
	"net/netip"
)

// GRPCConfig configures the RocketMQ 5 gRPC endpoint (package grpcserver), with the keys of
// RocketMQ's proxy where it has one.
type GRPCConfig struct {
	GRPCServerEnable bool   // grpcServerEnable: serve the gRPC MessagingService (true)
	GRPCServerIP     string // grpcServerIP: address the gRPC endpoint binds (127.0.0.1: loopback, like every port)
	GRPCServerPort   int    // grpcServerPort: gRPC port (8081, RocketMQ proxy's default; 0 = pick a free port)
}

// defaultGRPCConfig is the gRPC endpoint's defaults.
func defaultGRPCConfig() GRPCConfig {
	return GRPCConfig{GRPCServerEnable: true, GRPCServerIP: "127.0.0.1", GRPCServerPort: 8081}
}

func init() {
	configKeys["grpcServerEnable"] = boolKey(func(c *Config) *bool { return &c.GRPCServerEnable })
	configKeys["grpcServerIP"] = stringKey(func(c *Config) *string { return &c.GRPCServerIP })
	configKeys["grpcServerPort"] = intKey(func(c *Config) *int { return &c.GRPCServerPort })
}

// validateGRPC checks the gRPC keys.
func (c *Config) validateGRPC() error {
	if c.GRPCServerPort < 0 || c.GRPCServerPort > 65535 {
		return fmt.Errorf("%w: grpcServerPort=%d: not a port", ErrBadConfig, c.GRPCServerPort)
	}
	if _, err := netip.ParseAddr(c.GRPCServerIP); err != nil && c.GRPCServerIP != "" {
		return fmt.Errorf("%w: grpcServerIP=%q: not an IP address", ErrBadConfig, c.GRPCServerIP)
	}
	return nil
}

// GRPCListenAddr is the address the gRPC endpoint binds (loopback when grpcServerIP is empty).
func (c *Config) GRPCListenAddr() string {
	ip, err := netip.ParseAddr(c.GRPCServerIP)
	if err != nil {
		ip = netip.MustParseAddr("127.0.0.1")
	}
	return netip.AddrPortFrom(ip, uint16(c.GRPCServerPort)).String()
}
