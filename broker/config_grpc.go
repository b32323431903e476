package broker

import (
	"fmt"
	"net/netip"
)

// GRPCConfig configures the RocketMQ 5 gRPC endpoint (package grpcserver), with the keys of
// RocketMQ's proxy where it has one.
type GRPCConfig struct {
	GRPCServerEnable bool   // grpcServerEnable: serve the gRPC MessagingService (true)
	GRPCServerIP     string // grpcServerIP: address the gRPC endpoint binds ("" = bindAddress, loopback by default like every port)
	GRPCServerPort   int    // grpcServerPort: gRPC port (8081, RocketMQ proxy's default; 0 = pick a free port)
}

// defaultGRPCConfig is the gRPC endpoint's defaults.
func defaultGRPCConfig() GRPCConfig {
	return GRPCConfig{GRPCServerEnable: true, GRPCServerPort: 8081}
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

// GRPCListenAddr is the address the gRPC endpoint binds: grpcServerIP, else bindAddress (so the
// one key that opens the ports opens this one too), else loopback.
func (c *Config) GRPCListenAddr() string {
	ip, err := netip.ParseAddr(c.GRPCServerIP)
	if err != nil {
		if ip, err = netip.ParseAddr(c.BindAddress); err != nil {
			ip = netip.MustParseAddr("127.0.0.1")
		}
	}
	return netip.AddrPortFrom(ip, uint16(c.GRPCServerPort)).String()
}
