package store

import (
	"fmt"
	"time"

	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/timer"
)

// Defaults of TimerOptions (RocketMQ's MessageStoreConfig keys in parentheses).
const (
	DefaultTimerMaxDelay           = timer.DefaultMaxDelay  // timerMaxDelaySec, 3 days
	DefaultTimerPrecision          = timer.DefaultPrecision // timerPrecisionMs, 1 s
	DefaultTimerCheckpointInterval = 200 * time.Millisecond
	DefaultTimerRollWindow         = 48 * time.Hour // timerRollWindowSlot × timerPrecisionMs, 2 days
)

// TimerOptions configures timer messages and delay levels (timer.go). The zero value takes the
// defaults.
type TimerOptions struct {
	// Disabled refuses messages that ask for a delivery time (RocketMQ's timerWheelEnable=false);
	// delay levels still work.
	Disabled bool
	// MaxDelay is the furthest delivery time accepted (timerMaxDelaySec; default 3 days).
	MaxDelay time.Duration
	// Precision is the tick of the wheel (timerPrecisionMs; default 1 s, at least 100 ms): a timer
	// is delivered at the first tick at or after its time, so at most Precision late (plus the
	// time to append it), never early.
	Precision time.Duration
	// CheckpointInterval is how often the timer checkpoint is written (default 200 ms). After a
	// crash, timers fired during the last interval (plus one commitlog flush interval) may be
	// delivered again.
	CheckpointInterval time.Duration
	// RollWindow bounds how long a timer's record waits in the commitlog before it is re-put
	// (RocketMQ 5's roll, timerRollWindowSlot × timerPrecisionMs; default 2 days): a timer due
	// later than that after its record was stored is fired at the window's end as a roll, which
	// appends a new timer record (same message, TIMER_ROLL_TIMES + 1) that the wheel schedules
	// again, so retention never removes the record of a pending timer. The window used is at most
	// half the store's FileReservedTime (a record is kept at least that long after it was stored).
	// Negative: no roll (timers whose records retention removes before they are due are skipped).
	RollWindow time.Duration
	// SegmentEntries sizes the timer-log segments (default timer.DefaultSegmentEntries).
	SegmentEntries int
	// FS is the file system of the timer files (default: the store's Options.FS).
	FS vfs.FS
	// Now is the clock that due times are computed and fired by (default time.Now; not
	// Options.Now, whose fakes in tests are not safe for a background goroutine).
	Now func() time.Time
}

func (o TimerOptions) withDefaults() TimerOptions {
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultTimerMaxDelay
	}
	if o.Precision == 0 {
		o.Precision = DefaultTimerPrecision
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultTimerCheckpointInterval
	}
	if o.RollWindow == 0 {
		o.RollWindow = DefaultTimerRollWindow
	}
	o.FS = vfs.Default(o.FS)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o TimerOptions) wheelOptions() timer.Options {
	return timer.Options{Precision: o.Precision, MaxDelay: o.MaxDelay, SegmentEntries: o.SegmentEntries, FS: o.FS}
}

// validate checks the options against the delay levels, which ride on the same wheel.
func (o TimerOptions) validate(levels []time.Duration) error {
	d := o.withDefaults()
	if err := d.wheelOptions().Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	if d.CheckpointInterval < 0 {
		return fmt.Errorf("%w: negative timer checkpoint interval", ErrInvalidOptions)
	}
	for i, l := range levels {
		if l > d.MaxDelay {
			return fmt.Errorf("%w: delay level %d (%v) is beyond the timer's maximum delay %v", ErrInvalidOptions, i+1, l, d.MaxDelay)
		}
	}
	return nil
}

// Validate reports whether the options are usable with the given delay levels.
func (o TimerOptions) Validate(levels []time.Duration) error { return o.validate(levels) }
