package protocol

// OpenTransactions is the body of the answer to mqstore's private MQSTORE_LIST_OPEN_TRANSACTIONS
// request (code 9000, docs/PROTOCOL.md): how many transactions are open, and the first of them.
type OpenTransactions struct {
	Total        int               `json:"total"`
	Transactions []OpenTransaction `json:"transactions"`
}

// OpenTransaction is one open transaction: its half message (commitlog and half-queue offsets),
// producer group, real topic and queue, age and check history. Times are ms since the epoch.
type OpenTransaction struct {
	CommitLogOffset      int64  `json:"commitLogOffset"`
	TranStateTableOffset int64  `json:"tranStateTableOffset"`
	OffsetMsgID          string `json:"offsetMsgId"`
	ProducerGroup        string `json:"producerGroup"`
	Topic                string `json:"topic"`
	QueueID              int32  `json:"queueId"`
	TransactionID        string `json:"transactionId"`
	StoreTimestamp       int64  `json:"storeTimestamp"`
	AgeMillis            int64  `json:"ageMillis"`
	CheckTimes           int    `json:"checkTimes"`
	LastCheckTimestamp   int64  `json:"lastCheckTimestamp"`
	LastCheckResult      string `json:"lastCheckResult"`
	ResumedFrom          int64  `json:"resumedFrom"` // commitlog offset of the discarded half message it resumes, or -1
}

// PendingTimers is the body of the answer to mqstore's private MQSTORE_PENDING_TIMERS request
// (code 9003, docs/PROTOCOL.md): the timer messages (delay levels included) of one topic that
// wait in a broker's timing wheel. NextDueMs is the earliest delivery time (ms since the
// epoch), 0 when Count is 0. WheelPending counts every timer of the broker, of any topic.
type PendingTimers struct {
	Topic        string `json:"topic"`
	Count        int64  `json:"count"`
	NextDueMs    int64  `json:"nextDueMs"`
	WheelPending int64  `json:"wheelPending"`
}
