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
	// TimerRollWindowSlot (timerRollWindowSlot, 172800: 2 days of 1 s ticks) is the roll window
	// in ticks: a timer due later than that after its record was stored has its record appended
	// again (at most every fileReservedTime/2), so retention never removes a pending timer's
	// record; 0 or less: no roll.
	TimerRollWindowSlot int64
}

func defaultTimerConfig() TimerConfig {
	return TimerConfig{
		TimerWheelEnable: true,
		TimerMaxDelaySec: int64(store.DefaultTimerMaxDelay / time.Second),
		TimerPrecisionMs: store.DefaultTimerPrecision.Milliseconds(),

		TimerRollWindowSlot: int64(store.DefaultTimerRollWindow / store.DefaultTimerPrecision),
	}
}

func init() {
	configKeys["timerWheelEnable"] = boolKey(func(c *Config) *bool { return &c.TimerWheelEnable })
	configKeys["timerMaxDelaySec"] = int64Key(func(c *Config) *int64 { return &c.TimerMaxDelaySec })
	configKeys["timerPrecisionMs"] = int64Key(func(c *Config) *int64 { return &c.TimerPrecisionMs })
	configKeys["timerRollWindowSlot"] = int64Key(func(c *Config) *int64 { return &c.TimerRollWindowSlot })
}

// timerOptions is the store's TimerOptions for the keys.
func (c *Config) timerOptions() store.TimerOptions {
	roll := time.Duration(c.TimerRollWindowSlot) * time.Duration(c.TimerPrecisionMs) * time.Millisecond
	if c.TimerRollWindowSlot <= 0 {
		roll = -1
	}
	return store.TimerOptions{
		Disabled:   !c.TimerWheelEnable,
		MaxDelay:   time.Duration(c.TimerMaxDelaySec) * time.Second,
		Precision:  time.Duration(c.TimerPrecisionMs) * time.Millisecond,
		RollWindow: roll,
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
