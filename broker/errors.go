package broker

import "errors"

// Errors of configuration (Config.Set, Config.Validate, New).
var (
	// ErrUnknownKey: a broker.conf key the broker does not know.
	ErrUnknownKey = errors.New("broker: unknown config key")
	// ErrBadConfig: a config value does not parse or is out of range.
	ErrBadConfig = errors.New("broker: bad config value")
	// ErrRefusedKey: a RocketMQ broker.conf key whose value asks for a feature mqstore lacks, where
	// running without it would be unsafe or surprising (brokerRole=SLAVE, aclEnable=true, ...).
	ErrRefusedKey = errors.New("broker: config key refused")
)

// Errors of the broker's lifecycle.
var (
	// ErrClosed: the broker is closed (a second Close, or Start after Close).
	ErrClosed = errors.New("broker: closed")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("broker: already started")
)

// Errors of the config files under <storePathRootDir>/config.
var (
	// ErrConfigFile: a config file (topics.json, consumerOffset.json, subscriptionGroup.json)
	// does not decode; the broker refuses to start rather than lose its content.
	ErrConfigFile = errors.New("broker: malformed config file")
)

// Errors of requests, mapped to response codes by responseCodeOf.
var (
	// ErrTopicNotExist: the topic is unknown and may not be auto-created.
	ErrTopicNotExist = errors.New("broker: topic does not exist")
	// ErrInvalidTopic: the topic name breaks RocketMQ's rules (characters, length, reserved).
	ErrInvalidTopic = errors.New("broker: invalid topic")
	// ErrNoPermission: the broker or topic does not allow the operation (perm bits).
	ErrNoPermission = errors.New("broker: no permission")
	// ErrBadRequest: a request header field is missing or malformed.
	ErrBadRequest = errors.New("broker: bad request")
	// ErrGroupNotExist: the consumer group has no config and may not be auto-created
	// (autoCreateSubscriptionGroup=false).
	ErrGroupNotExist = errors.New("broker: subscription group does not exist")
)
