package txn

// outcome is what txn knows of one half-queue offset.
type outcome uint8

const (
	stateNone       outcome = iota // unknown: not prepared yet, or not a half message txn saw
	stateOpen                      // open (Service.open holds its entry)
	stateCommitted                 // committed
	stateRolledBack                // rolled back
	stateDiscarded                 // discarded to DiscardTopic
	stateResumed                   // discarded, then resumed as a new half message
	stateEnded                     // closed by an op message without PropertyEnd (RocketMQ's)
)

// outcomeOf maps a PropertyEnd value to an outcome (stateEnded when absent
// or unknown).
func outcomeOf(end string) outcome {
	switch end {
	case EndCommit:
		return stateCommitted
	case EndRollback:
		return stateRolledBack
	case EndDiscard:
		return stateDiscarded
	case EndResume:
		return stateResumed
	}
	return stateEnded
}

// statusError is the idempotence answer for a closed transaction.
func (o outcome) statusError() error {
	switch o {
	case stateCommitted:
		return ErrAlreadyCommitted
	case stateRolledBack:
		return ErrAlreadyRolledBack
	case stateDiscarded:
		return ErrDiscarded
	case stateResumed:
		return ErrResumed
	case stateEnded:
		return ErrAlreadyEnded
	}
	return nil
}

// window holds the outcome of every half-queue offset in [base, base+len).
// Offsets below base are all closed: their outcome is looked up in the op
// queue when asked (Service.lookupOutcome). base advances to the oldest
// offset still open (trim), so the window holds one byte per transaction
// since the oldest open one.
type window struct {
	base   int64
	states []outcome
}

// get returns the outcome of q; ok is false when q is below base.
func (w *window) get(q int64) (o outcome, ok bool) {
	if q < w.base {
		return stateNone, false
	}
	i := q - w.base
	if i >= int64(len(w.states)) {
		return stateNone, true
	}
	return w.states[i], true
}

// set records the outcome of q (ignored below base).
func (w *window) set(q int64, o outcome) {
	if q < w.base {
		return
	}
	i := q - w.base
	for int64(len(w.states)) <= i {
		w.states = append(w.states, stateNone)
	}
	w.states[i] = o
}

// trim drops the offsets below base. Dropping from the front of the slice
// lets the next growth reallocate only the live part.
func (w *window) trim(base int64) {
	if base <= w.base {
		return
	}
	n := base - w.base
	if n >= int64(len(w.states)) {
		w.states = w.states[:0:0]
	} else {
		w.states = w.states[n:]
	}
	w.base = base
}
