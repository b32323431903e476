package broker

import (
	"encoding/json"
	"fmt"

	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/remoting"
)

// CHECK_CLIENT_CONFIG (46): a consumer asks, before it starts, whether the broker accepts one
// of its subscriptions (RocketMQ's Java push consumer does, for every non-TAG subscription, and
// fails its start with the answer's remark; rocketmq-client-go does not send it). Body:
// CheckClientRequestBody JSON {clientId, group, subscriptionData, namespace}. Answers, as
// RocketMQ's ClientManageProcessor.checkClientConfig:
//
//	TAG (or no) expression type                  SUCCESS
//	property filtering off (enablePropertyFilter) SYSTEM_ERROR "The broker does not support consumer to filter message by SQL92"
//	expression does not compile, unknown type     SUBSCRIPTION_PARSE_FAILED with what is wrong and where
//	otherwise                                     SUCCESS
func (b *Broker) handleCheckClientConfig(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	var body checkClientBody
	if len(req.Body) > 0 {
		if err := json.Unmarshal(req.Body, &body); err != nil {
			return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("bad CHECK_CLIENT_CONFIG body: %v", err))
		}
	}
	if sd := body.SubscriptionData; sd != nil {
		if _, code, remark := b.checkSubscription(body.Group, sd.Topic, sd.ExpressionType, sd.SubString); code != remoting.ResponseSuccess {
			b.log.Warn("broker: client config refused", "client", body.ClientID, "group", body.Group, "topic", sd.Topic, "remark", remark)
			return remoting.NewResponse(req, code, remark)
		}
	}
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}

// checkClientBody is RocketMQ's CheckClientRequestBody.
type checkClientBody struct {
	ClientID         string            `json:"clientId"`
	Group            string            `json:"group"`
	SubscriptionData *subscriptionData `json:"subscriptionData"`
	Namespace        string            `json:"namespace"`
}

// checkSubscription is the broker's verdict on a subscription expression, given at
// CHECK_CLIENT_CONFIG and HEART_BEAT: the compiled expression (nil for tags) and SUCCESS, or
// the response code and remark that refuse it (subscriptionRefusal).
func (b *Broker) checkSubscription(group, topic, expressionType, expression string) (*filter.Expression, remoting.ResponseCode, string) {
	if filter.IsTagType(expressionType) {
		return nil, remoting.ResponseSuccess, ""
	}
	e, err := filter.CompileType(expressionType, expression)
	code, remark := b.subscriptionRefusal(group, topic, expressionType, expression, err)
	return e, code, remark
}

// subscriptionRefusal is the one definition of how a non-TAG subscription is refused, at
// CHECK_CLIENT_CONFIG, HEART_BEAT and PULL_MESSAGE, as RocketMQ: SYSTEM_ERROR when property
// filtering is off, SUBSCRIPTION_PARSE_FAILED when the expression did not compile (compileErr),
// else SUCCESS.
func (b *Broker) subscriptionRefusal(group, topic, expressionType, expression string, compileErr error) (remoting.ResponseCode, string) {
	if !b.cfg.EnablePropertyFilter {
		// RocketMQ's words; a client may match on them.
		return remoting.ResponseSystemError, "The broker does not support consumer to filter message by " + expressionType
	}
	if compileErr != nil {
		return remoting.ResponseSubscriptionParseFailed,
			fmt.Sprintf("the subscription of group %s to topic %s is refused: %s expression %q: %v", group, topic, expressionType, expression, compileErr)
	}
	return remoting.ResponseSuccess, ""
}

// refuseInvalidSubscriptions takes out of a heartbeat the consumer groups with a subscription
// the broker refuses (checkSubscription), so that they are not registered and no pull is served
// under a misread expression, and returns the answer for the heartbeat: SUCCESS, or the first
// refusal's code and remark (rocketmq-client-go logs it as "send heart beat to broker failed"
// with the remark). The other groups and the producers of the heartbeat are registered.
func (b *Broker) refuseInvalidSubscriptions(hb *heartbeatData) (remoting.ResponseCode, string) {
	code, remark := remoting.ResponseSuccess, ""
	kept := hb.ConsumerDataSet[:0]
	for _, d := range hb.ConsumerDataSet {
		ok := true
		for _, sd := range d.SubscriptionDataSet {
			if _, c, r := b.checkSubscription(d.GroupName, sd.Topic, sd.ExpressionType, sd.SubString); c != remoting.ResponseSuccess {
				b.log.Warn("broker: consumer subscription refused", "client", hb.ClientID, "group", d.GroupName, "topic", sd.Topic, "remark", r)
				if code == remoting.ResponseSuccess {
					code, remark = c, r
				}
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, d)
		}
	}
	hb.ConsumerDataSet = kept
	return code, remark
}
