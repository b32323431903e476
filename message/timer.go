package message

// TimerProperties are the properties of timer messages (RocketMQ 5's MessageConst): the four
// that ask for a delivery time, in the order the store reads them — TIMER_DELIVER_MS and
// __STARTDELIVERTIME (absolute, ms since the epoch), TIMER_DELAY_SEC and TIMER_DELAY_MS
// (relative to the put) — then TIMER_OUT_MS, the due time the store writes into a timer record.
// A delivered copy keeps only TIMER_OUT_MS: when it was due (RocketMQ 5's proxy answers it to
// consumers as the message's delivery_timestamp); it does not ask for a delivery time again.
var TimerProperties = []string{
	PropertyTimerDeliverMS, PropertyStartDeliverTime, PropertyTimerDelaySec, PropertyTimerDelayMS, PropertyTimerOutMS,
}

// TimerRequestProperties are the TimerProperties that ask for a delivery time.
var TimerRequestProperties = TimerProperties[:4]
