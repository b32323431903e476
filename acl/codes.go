package acl

import "github.com/mqstore/mqstore/remoting"

// Request codes the checks name that remoting's table does not (RocketMQ's RequestCode.java).
const (
	codeUpdateBrokerConfig        remoting.RequestCode = 25
	codeUpdateAndCreateACLConfig  remoting.RequestCode = 50
	codeDeleteACLConfig           remoting.RequestCode = 51
	codeGetBrokerClusterACLInfo   remoting.RequestCode = 52
	codeUpdateGlobalWhiteAddrs    remoting.RequestCode = 53
	codeGetBrokerClusterACLConfig remoting.RequestCode = 54
	codeDeleteKVConfig            remoting.RequestCode = 102
	codeDeleteSubscriptionGroup   remoting.RequestCode = 207
	codeInvokeBrokerToResetOffset remoting.RequestCode = 222
	codeUpdateNamesrvConfig       remoting.RequestCode = 318
	codeCleanExpiredConsumeQueue  remoting.RequestCode = 306
	codeCleanUnusedTopic          remoting.RequestCode = 316
	codeDeleteUser                remoting.RequestCode = 3003 // ACL 2.0's 3001–3010
)

// rocketMQAdminCodes are the five codes RocketMQ's ACL 1.0 reserves to admin accounts
// (common/Permission.java).
var rocketMQAdminCodes = []remoting.RequestCode{
	remoting.RequestUpdateAndCreateTopic,
	codeUpdateBrokerConfig,
	remoting.RequestDeleteTopicInBroker,
	remoting.RequestUpdateAndCreateSubscriptionGroup,
	codeDeleteSubscriptionGroup,
}

// mqstoreAdminCodes are the codes mqstore adds: every code that deletes, resets offsets,
// resolves transactions by hand, changes configuration or routes, or touches the ACL itself.
var mqstoreAdminCodes = []remoting.RequestCode{
	remoting.RequestDeleteTopicInNameServer,
	codeInvokeBrokerToResetOffset,
	remoting.RequestResumeCheckHalfMessage,
	remoting.RequestPutKVConfig,
	codeDeleteKVConfig,
	codeUpdateNamesrvConfig,
	remoting.RequestRegisterBroker,
	remoting.RequestUnregisterBroker,
	codeUpdateAndCreateACLConfig, codeDeleteACLConfig, codeGetBrokerClusterACLInfo,
	codeUpdateGlobalWhiteAddrs, codeGetBrokerClusterACLConfig,
	codeCleanExpiredConsumeQueue, codeCleanUnusedTopic,
}

// IsAdminCode reports whether code needs an admin account: RocketMQ's five, mqstore's list
// above, ACL 2.0's user and ACL administration (3001–3010) and every private mqstore code
// (9000–9009: open transactions, commit and rollback by hand).
func IsAdminCode(code remoting.RequestCode) bool {
	switch {
	case code >= remoting.RequestListOpenTransactions && code <= remoting.RequestListOpenTransactions+9:
		return true
	case code >= codeDeleteUser-2 && code <= codeDeleteUser+7:
		return true
	}
	for _, list := range [][]remoting.RequestCode{rocketMQAdminCodes, mqstoreAdminCodes} {
		for _, c := range list {
			if c == code {
				return true
			}
		}
	}
	return false
}

// nameServerCodes are the codes a name server checks: those that change routes or its
// configuration. Route queries stay open: rocketmq-client-go v2.1.2 sends them unsigned.
func nameServerChecks(code remoting.RequestCode) bool {
	switch code {
	case remoting.RequestRegisterBroker, remoting.RequestUnregisterBroker,
		remoting.RequestDeleteTopicInNameServer, remoting.RequestPutKVConfig,
		codeDeleteKVConfig, codeUpdateNamesrvConfig:
		return true
	}
	return false
}
