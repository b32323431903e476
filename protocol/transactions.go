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
