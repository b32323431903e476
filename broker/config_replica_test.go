package broker

import (
	"errors"
	"testing"
)

func TestDLegerLeaderAddrValidate(t *testing.T) {
	for _, tc := range []struct {
		replicated bool
		addr       string
		ok         bool
	}{
		{false, "", true},
		{true, "", true},
		{true, "127.0.0.10:10911", true},
		{true, "[::1]:10911", true},
		{false, "127.0.0.10:10911", false}, // only a replica has a leader address
		{true, "127.0.0.10", false},
		{true, "127.0.0.10:0", false},
		{true, "localhost:10911", false}, // an IP, as bindAddress
	} {
		cfg := DefaultConfig()
		cfg.StorePathRootDir = t.TempDir()
		if tc.replicated {
			cfg.EnableDLegerCommitLog, cfg.DLegerPeers, cfg.DLegerSelfID = true, "n0-127.0.0.1:40911", "n0"
		}
		if err := cfg.Set("dLegerLeaderAddr", tc.addr); err != nil {
			t.Fatal(err)
		}
		err := cfg.Validate()
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrBadConfig) {
			t.Errorf("replicated=%v dLegerLeaderAddr=%q: Validate() = %v", tc.replicated, tc.addr, err)
		}
	}
}
