package broker

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/mqstore/mqstore/namesrv"
)

// GroupConfig is a consumer group's settings (RocketMQ's SubscriptionGroupConfig), as kept in
// subscriptionGroup.json and answered to GET_ALL_SUBSCRIPTIONGROUP_CONFIG.
type GroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

// defaultGroupConfig is RocketMQ's default for an auto-created group.
func defaultGroupConfig(name string) GroupConfig {
	return GroupConfig{
		GroupName:                      name,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 1,
		RetryMaxTimes:                  16,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIdsChangedEnable: true,
	}
}

// groupsFileContent is subscriptionGroup.json (SubscriptionGroupWrapper).
type groupsFileContent struct {
	SubscriptionGroupTable map[string]GroupConfig `json:"subscriptionGroupTable"`
	DataVersion            namesrv.DataVersion    `json:"dataVersion"`
}

// groupTable holds consumer group configs (RocketMQ's SubscriptionGroupManager).
type groupTable struct {
	path string
	now  func() time.Time

	mu      sync.RWMutex // guards groups, version, dirty
	groups  map[string]GroupConfig
	version namesrv.DataVersion
	dirty   bool
}

func newGroupTable(path string, now func() time.Time) *groupTable {
	return &groupTable{path: path, now: now, groups: make(map[string]GroupConfig)}
}

func (g *groupTable) load() error {
	var f groupsFileContent
	if err := readJSONFile(g.path, &f); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, gc := range f.SubscriptionGroupTable {
		if gc.GroupName == "" {
			gc.GroupName = name
		}
		g.groups[name] = gc
	}
	g.version = f.DataVersion
	return nil
}

func (g *groupTable) get(name string) (GroupConfig, bool) {
	g.mu.RLock()
	gc, ok := g.groups[name]
	g.mu.RUnlock()
	return gc, ok
}

// ensure returns the group's config, creating the default one when create is set.
func (g *groupTable) ensure(name string, create bool) (GroupConfig, bool) {
	if gc, ok := g.get(name); ok || !create {
		return gc, ok
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if gc, ok := g.groups[name]; ok {
		return gc, true
	}
	gc := defaultGroupConfig(name)
	g.groups[name] = gc
	g.version = namesrv.DataVersion{Timestamp: g.now().UnixMilli(), Counter: g.version.Counter + 1}
	g.dirty = true
	return gc, true
}

func (g *groupTable) snapshot() (map[string]GroupConfig, namesrv.DataVersion) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return maps.Clone(g.groups), g.version
}

func (g *groupTable) persist(force bool) error {
	g.mu.Lock()
	if !g.dirty && !force {
		g.mu.Unlock()
		return nil
	}
	data, err := json.Marshal(groupsFileContent{SubscriptionGroupTable: g.groups, DataVersion: g.version})
	g.dirty = false
	g.mu.Unlock()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(g.path, data); err != nil {
		g.mu.Lock()
		g.dirty = true
		g.mu.Unlock()
		return fmt.Errorf("broker: write %s: %w", g.path, err)
	}
	return nil
}
