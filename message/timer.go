package message

// TimerProperties are the properties of timer messages (RocketMQ 5's MessageConst): the four
// that ask for a delivery time, in the order the store reads them — TIMER_DELIVER_MS and
// __STARTDELIVERTIME (absolute, ms since the epoch), TIMER_DELAY_SEC and TIMER_DELAY_MS
// (relative to the put) — then TIMER_OUT_MS, the due time the store writes into a timer record.
// A delivered copy has none of them.
var TimerProperties = []string{
	PropertyTimerDeliverMS, PropertyStartDeliverTime, PropertyTimerDelaySec, PropertyTimerDelayMS, PropertyTimerOutMS,
}
