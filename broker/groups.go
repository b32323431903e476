package broker

import (
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/mqstore/mqstore/protocol"

	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/namesrv"
)

// GroupConfig is a consumer group's settings (RocketMQ's SubscriptionGroupConfig), as kept in
// subscriptionGroup.json and answered to GET_ALL_SUBSCRIPTIONGROUP_CONFIG; defined once in
// package protocol.
type GroupConfig = protocol.SubscriptionGroupConfig

// defaultGroupConfig is RocketMQ's default for an auto-created group.
func defaultGroupConfig(name string) GroupConfig {
	return protocol.DefaultSubscriptionGroupConfig(name)
}

// groupsFileContent is subscriptionGroup.json (SubscriptionGroupWrapper).
type groupsFileContent struct {
	SubscriptionGroupTable map[string]GroupConfig `json:"subscriptionGroupTable"`
	DataVersion            namesrv.DataVersion    `json:"dataVersion"`
}

// groupTable holds consumer group configs (RocketMQ's SubscriptionGroupManager).
type groupTable struct {
	file configFile
	now  func() time.Time

	// repl routes changes through a replicated group's log (nil in single-node mode;
	// replicated_config.go); commitMu serialises those proposals.
	repl     *configRepl
	commitMu sync.Mutex

	mu      sync.RWMutex // guards groups, version, dirty
	groups  map[string]GroupConfig
	version namesrv.DataVersion
	dirty   dirtyRows // changed rows not yet in the replicated log
}

func newGroupTable(fsys vfs.FS, path string, now func() time.Time) *groupTable {
	return &groupTable{file: configFile{fs: fsys, path: path}, now: now, groups: make(map[string]GroupConfig)}
}

func (g *groupTable) load() error {
	var f groupsFileContent
	if err := readJSONFile(g.file.path, &f); err != nil {
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

// ensure returns the group's config, creating the default one when create is set. A group it
// creates is durable (subscriptionGroup.json written and synced) before it returns; an error
// means the group may exist in memory only, and the caller must not answer success.
func (g *groupTable) ensure(name string, create bool) (GroupConfig, bool, error) {
	if gc, ok := g.get(name); ok || !create {
		if ok && !g.file.durable() {
			// Created by a concurrent request whose write may still be running.
			return gc, ok, g.commit()
		}
		return gc, ok, nil
	}
	g.mu.Lock()
	gc, ok := g.groups[name]
	if !ok {
		gc = defaultGroupConfig(name)
		g.groups[name] = gc
		g.version = namesrv.DataVersion{Timestamp: g.now().UnixMilli(), Counter: g.version.Counter + 1}
		g.file.changed()
		g.dirty.mark(g.repl, name)
	}
	g.mu.Unlock()
	// Commit even when another caller created it: that caller may still be writing, and this
	// caller's answer depends on the group too.
	if err := g.commit(); err != nil {
		return gc, true, err
	}
	return gc, true, nil
}

func (g *groupTable) snapshot() (map[string]GroupConfig, namesrv.DataVersion) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return maps.Clone(g.groups), g.version
}

// commit makes every change made so far durable in subscriptionGroup.json; in a replicated
// group, changes made on the ready leader are first committed through the log.
func (g *groupTable) commit() error {
	if err := g.replicate(); err != nil {
		return err
	}
	return g.file.commit(g.encode)
}

// persist writes subscriptionGroup.json if it changed since the last write (or always when force).
func (g *groupTable) persist(force bool) error { return g.file.persist(force, g.encode) }

func (g *groupTable) encode() ([]byte, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return json.Marshal(groupsFileContent{SubscriptionGroupTable: g.groups, DataVersion: g.version})
}
