package remoting

// This file is the one table of RocketMQ's request and response codes
// (RequestCode.java, RemotingSysResponseCode.java and ResponseCode.java;
// identical numbers in 4.9 and 5.x, see ../shared/spec/rocketmq.md §7.4 and
// §7.5). The numbers are wire values and frozen.

import "strconv"

// RequestCode is the code of a request command.
type RequestCode int32

// ResponseCode is the code of a response command. Response codes share
// numbers with request codes; the flag's response bit tells them apart.
type ResponseCode int32

// Request codes. Comments name broker-to-client requests.
const (
	RequestSendMessage                      RequestCode = 10
	RequestPullMessage                      RequestCode = 11
	RequestQueryMessage                     RequestCode = 12
	RequestQueryConsumerOffset              RequestCode = 14
	RequestUpdateConsumerOffset             RequestCode = 15
	RequestUpdateAndCreateTopic             RequestCode = 17
	RequestGetAllTopicConfig                RequestCode = 21
	RequestGetBrokerRuntimeInfo             RequestCode = 28
	RequestSearchOffsetByTimestamp          RequestCode = 29
	RequestGetMaxOffset                     RequestCode = 30
	RequestGetMinOffset                     RequestCode = 31
	RequestGetEarliestMsgStoreTime          RequestCode = 32
	RequestViewMessageByID                  RequestCode = 33
	RequestHeartBeat                        RequestCode = 34
	RequestUnregisterClient                 RequestCode = 35
	RequestConsumerSendMsgBack              RequestCode = 36
	RequestEndTransaction                   RequestCode = 37
	RequestGetConsumerListByGroup           RequestCode = 38
	RequestCheckTransactionState            RequestCode = 39 // broker→client
	RequestNotifyConsumerIDsChanged         RequestCode = 40 // broker→client
	RequestLockBatchMQ                      RequestCode = 41
	RequestUnlockBatchMQ                    RequestCode = 42
	RequestGetAllConsumerOffset             RequestCode = 43
	RequestGetAllDelayOffset                RequestCode = 45
	RequestCheckClientConfig                RequestCode = 46
	RequestPutKVConfig                      RequestCode = 100
	RequestGetKVConfig                      RequestCode = 101
	RequestRegisterBroker                   RequestCode = 103
	RequestUnregisterBroker                 RequestCode = 104
	RequestGetRouteInfoByTopic              RequestCode = 105
	RequestGetBrokerClusterInfo             RequestCode = 106
	RequestUpdateAndCreateSubscriptionGroup RequestCode = 200
	RequestGetAllSubscriptionGroupConfig    RequestCode = 201
	RequestGetTopicStatsInfo                RequestCode = 202
	RequestGetConsumerConnectionList        RequestCode = 203
	RequestGetProducerConnectionList        RequestCode = 204
	RequestGetAllTopicListFromNameServer    RequestCode = 206
	RequestDeleteSubscriptionGroup          RequestCode = 207
	RequestGetConsumeStats                  RequestCode = 208
	RequestDeleteTopicInBroker              RequestCode = 215
	RequestDeleteTopicInNameServer          RequestCode = 216
	RequestResetConsumerClientOffset        RequestCode = 220 // broker→client
	RequestGetConsumerStatusFromClient      RequestCode = 221 // broker→client
	RequestInvokeBrokerToResetOffset        RequestCode = 222
	RequestGetTopicsByCluster               RequestCode = 224
	RequestGetConsumerRunningInfo           RequestCode = 307 // broker→client
	RequestConsumeMessageDirectly           RequestCode = 309 // broker→client
	RequestSendMessageV2                    RequestCode = 310
	RequestSendBatchMessage                 RequestCode = 320
	RequestQueryConsumeQueue                RequestCode = 321
	RequestQueryDataVersion                 RequestCode = 322
	RequestResumeCheckHalfMessage           RequestCode = 323
	RequestSendReplyMessage                 RequestCode = 324
	RequestSendReplyMessageV2               RequestCode = 325
	RequestPushReplyMessageToClient         RequestCode = 326 // broker→client
	RequestGetTopicConfig                   RequestCode = 351
	RequestQueryAssignment                  RequestCode = 400
	RequestBrokerHeartbeat                  RequestCode = 904
	RequestPopMessage                       RequestCode = 200050
	RequestAckMessage                       RequestCode = 200051
	RequestChangeMessageInvisibleTime       RequestCode = 200053
)

// mqstore's private request codes, 9000-9009: operations RocketMQ's protocol lacks
// (docs/PROTOCOL.md, "Private codes"). They fit the binary header's int16. RocketMQ brokers
// answer them REQUEST_CODE_NOT_SUPPORTED.
const (
	RequestListOpenTransactions RequestCode = 9000 // open half messages of a broker
	RequestCommitHalfMessage    RequestCode = 9001 // an operator commits an open transaction
	RequestRollbackHalfMessage  RequestCode = 9002 // an operator rolls an open transaction back
	RequestPendingTimers        RequestCode = 9003 // timer messages of a topic waiting in the wheel
)

// Response codes. The negative RPC_* codes are client-side pseudo codes
// that never travel on the wire.
const (
	ResponseSuccess                    ResponseCode = 0
	ResponseSystemError                ResponseCode = 1
	ResponseSystemBusy                 ResponseCode = 2
	ResponseRequestCodeNotSupported    ResponseCode = 3
	ResponseTransactionFailed          ResponseCode = 4
	ResponseFlushDiskTimeout           ResponseCode = 10
	ResponseSlaveNotAvailable          ResponseCode = 11
	ResponseFlushSlaveTimeout          ResponseCode = 12
	ResponseMessageIllegal             ResponseCode = 13
	ResponseServiceNotAvailable        ResponseCode = 14
	ResponseVersionNotSupported        ResponseCode = 15
	ResponseNoPermission               ResponseCode = 16
	ResponseTopicNotExist              ResponseCode = 17
	ResponseTopicExistAlready          ResponseCode = 18
	ResponsePullNotFound               ResponseCode = 19
	ResponsePullRetryImmediately       ResponseCode = 20
	ResponsePullOffsetMoved            ResponseCode = 21
	ResponseQueryNotFound              ResponseCode = 22
	ResponseSubscriptionParseFailed    ResponseCode = 23
	ResponseSubscriptionNotExist       ResponseCode = 24
	ResponseSubscriptionNotLatest      ResponseCode = 25
	ResponseSubscriptionGroupNotExist  ResponseCode = 26
	ResponseFilterDataNotExist         ResponseCode = 27
	ResponseFilterDataNotLatest        ResponseCode = 28
	ResponseInvalidParameter           ResponseCode = 29
	ResponseTransactionShouldCommit    ResponseCode = 200
	ResponseTransactionShouldRollback  ResponseCode = 201
	ResponseTransactionStateUnknown    ResponseCode = 202
	ResponseTransactionStateGroupWrong ResponseCode = 203
	ResponseNoBuyerID                  ResponseCode = 204
	ResponseNotInCurrentUnit           ResponseCode = 205
	ResponseConsumerNotOnline          ResponseCode = 206
	ResponseConsumeMsgTimeout          ResponseCode = 207
	ResponseNoMessage                  ResponseCode = 208
	ResponsePollingFull                ResponseCode = 209
	ResponsePollingTimeout             ResponseCode = 210
	ResponseFlowControl                ResponseCode = 215
	ResponseNotLeaderForQueue          ResponseCode = 501
	ResponseIllegalOperation           ResponseCode = 604
	ResponseGoAway                     ResponseCode = 1500
	ResponseRPCUnknown                 ResponseCode = -1000
	ResponseRPCAddrIsNull              ResponseCode = -1002
	ResponseRPCSendToChannelFailed     ResponseCode = -1004
	ResponseRPCTimeOut                 ResponseCode = -1006
)

var requestCodeNames = map[RequestCode]string{
	RequestSendMessage:                      "SEND_MESSAGE",
	RequestPullMessage:                      "PULL_MESSAGE",
	RequestQueryMessage:                     "QUERY_MESSAGE",
	RequestQueryConsumerOffset:              "QUERY_CONSUMER_OFFSET",
	RequestUpdateConsumerOffset:             "UPDATE_CONSUMER_OFFSET",
	RequestUpdateAndCreateTopic:             "UPDATE_AND_CREATE_TOPIC",
	RequestGetAllTopicConfig:                "GET_ALL_TOPIC_CONFIG",
	RequestGetBrokerRuntimeInfo:             "GET_BROKER_RUNTIME_INFO",
	RequestSearchOffsetByTimestamp:          "SEARCH_OFFSET_BY_TIMESTAMP",
	RequestGetMaxOffset:                     "GET_MAX_OFFSET",
	RequestGetMinOffset:                     "GET_MIN_OFFSET",
	RequestGetEarliestMsgStoreTime:          "GET_EARLIEST_MSG_STORETIME",
	RequestViewMessageByID:                  "VIEW_MESSAGE_BY_ID",
	RequestHeartBeat:                        "HEART_BEAT",
	RequestUnregisterClient:                 "UNREGISTER_CLIENT",
	RequestConsumerSendMsgBack:              "CONSUMER_SEND_MSG_BACK",
	RequestEndTransaction:                   "END_TRANSACTION",
	RequestGetConsumerListByGroup:           "GET_CONSUMER_LIST_BY_GROUP",
	RequestCheckTransactionState:            "CHECK_TRANSACTION_STATE",
	RequestNotifyConsumerIDsChanged:         "NOTIFY_CONSUMER_IDS_CHANGED",
	RequestLockBatchMQ:                      "LOCK_BATCH_MQ",
	RequestUnlockBatchMQ:                    "UNLOCK_BATCH_MQ",
	RequestGetAllConsumerOffset:             "GET_ALL_CONSUMER_OFFSET",
	RequestGetAllDelayOffset:                "GET_ALL_DELAY_OFFSET",
	RequestCheckClientConfig:                "CHECK_CLIENT_CONFIG",
	RequestPutKVConfig:                      "PUT_KV_CONFIG",
	RequestGetKVConfig:                      "GET_KV_CONFIG",
	RequestRegisterBroker:                   "REGISTER_BROKER",
	RequestUnregisterBroker:                 "UNREGISTER_BROKER",
	RequestGetRouteInfoByTopic:              "GET_ROUTEINFO_BY_TOPIC",
	RequestGetBrokerClusterInfo:             "GET_BROKER_CLUSTER_INFO",
	RequestUpdateAndCreateSubscriptionGroup: "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP",
	RequestGetAllSubscriptionGroupConfig:    "GET_ALL_SUBSCRIPTIONGROUP_CONFIG",
	RequestGetTopicStatsInfo:                "GET_TOPIC_STATS_INFO",
	RequestGetConsumerConnectionList:        "GET_CONSUMER_CONNECTION_LIST",
	RequestGetProducerConnectionList:        "GET_PRODUCER_CONNECTION_LIST",
	RequestDeleteSubscriptionGroup:          "DELETE_SUBSCRIPTIONGROUP",
	RequestInvokeBrokerToResetOffset:        "INVOKE_BROKER_TO_RESET_OFFSET",
	RequestGetAllTopicListFromNameServer:    "GET_ALL_TOPIC_LIST_FROM_NAMESERVER",
	RequestGetConsumeStats:                  "GET_CONSUME_STATS",
	RequestDeleteTopicInBroker:              "DELETE_TOPIC_IN_BROKER",
	RequestDeleteTopicInNameServer:          "DELETE_TOPIC_IN_NAMESRV",
	RequestResetConsumerClientOffset:        "RESET_CONSUMER_CLIENT_OFFSET",
	RequestGetConsumerStatusFromClient:      "GET_CONSUMER_STATUS_FROM_CLIENT",
	RequestGetTopicsByCluster:               "GET_TOPICS_BY_CLUSTER",
	RequestGetConsumerRunningInfo:           "GET_CONSUMER_RUNNING_INFO",
	RequestConsumeMessageDirectly:           "CONSUME_MESSAGE_DIRECTLY",
	RequestSendMessageV2:                    "SEND_MESSAGE_V2",
	RequestSendBatchMessage:                 "SEND_BATCH_MESSAGE",
	RequestQueryConsumeQueue:                "QUERY_CONSUME_QUEUE",
	RequestQueryDataVersion:                 "QUERY_DATA_VERSION",
	RequestResumeCheckHalfMessage:           "RESUME_CHECK_HALF_MESSAGE",
	RequestSendReplyMessage:                 "SEND_REPLY_MESSAGE",
	RequestSendReplyMessageV2:               "SEND_REPLY_MESSAGE_V2",
	RequestPushReplyMessageToClient:         "PUSH_REPLY_MESSAGE_TO_CLIENT",
	RequestGetTopicConfig:                   "GET_TOPIC_CONFIG",
	RequestQueryAssignment:                  "QUERY_ASSIGNMENT",
	RequestBrokerHeartbeat:                  "BROKER_HEARTBEAT",
	RequestPopMessage:                       "POP_MESSAGE",
	RequestAckMessage:                       "ACK_MESSAGE",
	RequestChangeMessageInvisibleTime:       "CHANGE_MESSAGE_INVISIBLETIME",
	RequestListOpenTransactions:             "MQSTORE_LIST_OPEN_TRANSACTIONS",
	RequestPendingTimers:                    "MQSTORE_PENDING_TIMERS",
	RequestCommitHalfMessage:                "MQSTORE_COMMIT_HALF_MESSAGE",
	RequestRollbackHalfMessage:              "MQSTORE_ROLLBACK_HALF_MESSAGE",
}

var responseCodeNames = map[ResponseCode]string{
	ResponseSuccess:                    "SUCCESS",
	ResponseSystemError:                "SYSTEM_ERROR",
	ResponseSystemBusy:                 "SYSTEM_BUSY",
	ResponseRequestCodeNotSupported:    "REQUEST_CODE_NOT_SUPPORTED",
	ResponseTransactionFailed:          "TRANSACTION_FAILED",
	ResponseFlushDiskTimeout:           "FLUSH_DISK_TIMEOUT",
	ResponseSlaveNotAvailable:          "SLAVE_NOT_AVAILABLE",
	ResponseFlushSlaveTimeout:          "FLUSH_SLAVE_TIMEOUT",
	ResponseMessageIllegal:             "MESSAGE_ILLEGAL",
	ResponseServiceNotAvailable:        "SERVICE_NOT_AVAILABLE",
	ResponseVersionNotSupported:        "VERSION_NOT_SUPPORTED",
	ResponseNoPermission:               "NO_PERMISSION",
	ResponseTopicNotExist:              "TOPIC_NOT_EXIST",
	ResponseTopicExistAlready:          "TOPIC_EXIST_ALREADY",
	ResponsePullNotFound:               "PULL_NOT_FOUND",
	ResponsePullRetryImmediately:       "PULL_RETRY_IMMEDIATELY",
	ResponsePullOffsetMoved:            "PULL_OFFSET_MOVED",
	ResponseQueryNotFound:              "QUERY_NOT_FOUND",
	ResponseSubscriptionParseFailed:    "SUBSCRIPTION_PARSE_FAILED",
	ResponseSubscriptionNotExist:       "SUBSCRIPTION_NOT_EXIST",
	ResponseSubscriptionNotLatest:      "SUBSCRIPTION_NOT_LATEST",
	ResponseSubscriptionGroupNotExist:  "SUBSCRIPTION_GROUP_NOT_EXIST",
	ResponseFilterDataNotExist:         "FILTER_DATA_NOT_EXIST",
	ResponseFilterDataNotLatest:        "FILTER_DATA_NOT_LATEST",
	ResponseInvalidParameter:           "INVALID_PARAMETER",
	ResponseTransactionShouldCommit:    "TRANSACTION_SHOULD_COMMIT",
	ResponseTransactionShouldRollback:  "TRANSACTION_SHOULD_ROLLBACK",
	ResponseTransactionStateUnknown:    "TRANSACTION_STATE_UNKNOW",
	ResponseTransactionStateGroupWrong: "TRANSACTION_STATE_GROUP_WRONG",
	ResponseNoBuyerID:                  "NO_BUYER_ID",
	ResponseNotInCurrentUnit:           "NOT_IN_CURRENT_UNIT",
	ResponseConsumerNotOnline:          "CONSUMER_NOT_ONLINE",
	ResponseConsumeMsgTimeout:          "CONSUME_MSG_TIMEOUT",
	ResponseNoMessage:                  "NO_MESSAGE",
	ResponsePollingFull:                "POLLING_FULL",
	ResponsePollingTimeout:             "POLLING_TIMEOUT",
	ResponseFlowControl:                "FLOW_CONTROL",
	ResponseNotLeaderForQueue:          "NOT_LEADER_FOR_QUEUE",
	ResponseIllegalOperation:           "ILLEGAL_OPERATION",
	ResponseGoAway:                     "GO_AWAY",
	ResponseRPCUnknown:                 "RPC_UNKNOWN",
	ResponseRPCAddrIsNull:              "RPC_ADDR_IS_NULL",
	ResponseRPCSendToChannelFailed:     "RPC_SEND_TO_CHANNEL_FAILED",
	ResponseRPCTimeOut:                 "RPC_TIME_OUT",
}

// String returns the Java name of the code (SEND_MESSAGE) or
// "RequestCode(N)" for a code outside the table.
func (c RequestCode) String() string {
	if name, ok := requestCodeNames[c]; ok {
		return name
	}
	return "RequestCode(" + strconv.FormatInt(int64(c), 10) + ")"
}

// String returns the Java name of the code (SUCCESS) or "ResponseCode(N)"
// for a code outside the table.
func (c ResponseCode) String() string {
	if name, ok := responseCodeNames[c]; ok {
		return name
	}
	return "ResponseCode(" + strconv.FormatInt(int64(c), 10) + ")"
}
