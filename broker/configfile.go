package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mqstore/mqstore/internal/fastjsonkeys"
	"io/fs"
	"os"
	"path/filepath"
)

// The broker's config files live under <storePathRootDir>/config (RocketMQ's names and JSON
// shapes, so a directory moves between RocketMQ and mqstore):
//
//	topics.json             {"topicConfigTable":{"T":{"topicName":"T","readQueueNums":4,...}},
//	                         "dataVersion":{"timestamp":1700000000000,"counter":3}}
//	consumerOffset.json     {"offsetTable":{"T@group":{"0":12,"1":34}}}
//	subscriptionGroup.json  {"subscriptionGroupTable":{"g":{"groupName":"g",...}},"dataVersion":{...}}
//
// RocketMQ (fastjson) writes integer map keys unquoted ({0:12}); readJSONFile accepts both forms
// and mqstore writes standard JSON, which RocketMQ reads too. Files are replaced atomically:
// written to <name>.tmp, fsynced, renamed over <name>, and the directory fsynced, so a crash
// leaves the old or the new content, never a torn file. Like RocketMQ, the previous content is
// kept in <name>.bak, which is read when <name> is missing.
const (
	topicsFile         = "topics.json"
	consumerOffsetFile = "consumerOffset.json"
	subscriptionFile   = "subscriptionGroup.json"
)

// maxConfigFileSize caps a config file read at start.
const maxConfigFileSize = 256 << 20

// writeFileAtomic replaces path with data: temp file, fsync, keep the old file as .bak, rename,
// fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && !bytes.Equal(old, data) {
		// Best effort, as RocketMQ's MixAll.string2File: the .bak is only a fallback.
		_ = os.WriteFile(path+".bak", old, 0o644)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readJSONFile decodes path (or its .bak when path is missing) into v. A missing file leaves v
// untouched and returns nil.
func readJSONFile(path string, v any) error {
	data, err := readCapped(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = readCapped(path + ".bak")
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(quoteBareKeys(data), v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrConfigFile, path, err)
	}
	return nil
}

func readCapped(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxConfigFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrConfigFile, path, maxConfigFileSize)
	}
	return os.ReadFile(path)
}

// quoteBareKeys returns b with fastjson's non-string object keys ({0:"a"}, or an object as a
// key) quoted as JSON strings (fastjsonkeys.Quote). Text it cannot read is returned as it is,
// for the JSON parser to reject with its own error.
func quoteBareKeys(b []byte) []byte {
	out, err := fastjsonkeys.Quote(b)
	if err != nil {
		return b
	}
	return out
}
