package broker

import (
	"fmt"
	"time"

	"github.com/mqstore/mqstore/store"
)

// TimerConfig holds the broker.conf keys of timer messages (RocketMQ 5's MessageStoreConfig
// names); Config embeds it.
type TimerConfig struct {
	TimerWheelEnable bool  // timerWheelEnable (true): false refuses messages with a delivery time
	TimerMaxDelaySec int64 // timerMaxDelaySec (259200, 3 days): furthest delivery time accepted
	TimerPrecisionMs int64 // timerPrecisionMs (1000, at least 100): tick of the timing wheel
}

func defaultTimerConfig() TimerConfig {
	return TimerConfig{
		TimerWheelEnable: true,
		TimerMaxDelaySec: int64(store.DefaultTimerMaxDelay / time.Second),
		TimerPrecisionMs: store.DefaultTimerPrecision.Milliseconds(),
	}
}

func init() {
	configKeys["timerWheelEnable"] = boolKey(func(c *Config) *bool { return &c.TimerWheelEnable })
	configKeys["timerMaxDelaySec"] = int64Key(func(c *Config) *int64 { return &c.TimerMaxDelaySec })
	configKeys["timerPrecisionMs"] = int64Key(func(c *Config) *int64 { return &c.TimerPrecisionMs })
}

// timerOptions is the store's TimerOptions for the keys.
func (c *Config) timerOptions() store.TimerOptions {
	return store.TimerOptions{
		Disabled:  !c.TimerWheelEnable,
		MaxDelay:  time.Duration(c.TimerMaxDelaySec) * time.Second,
		Precision: time.Duration(c.TimerPrecisionMs) * time.Millisecond,
	}
}

// validateTimer checks the timer keys (with the delay levels, which ride on the same wheel).
func (c *Config) validateTimer() error {
	switch {
	case c.TimerPrecisionMs < 100 || c.TimerPrecisionMs > 3600*1000:
		return fmt.Errorf("%w: timerPrecisionMs=%d: must be within 100..3600000", ErrBadConfig, c.TimerPrecisionMs)
	case c.TimerMaxDelaySec <= 0 || c.TimerMaxDelaySec*1000 < c.TimerPrecisionMs || c.TimerMaxDelaySec > 400*24*3600:
		return fmt.Errorf("%w: timerMaxDelaySec=%d: must be positive, at least the precision, at most 400 days", ErrBadConfig, c.TimerMaxDelaySec)
	}
	levels, _ := ParseDelayLevels(c.MessageDelayLevel)
	if err := c.timerOptions().Validate(levels); err != nil {
		return fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	return nil
}
